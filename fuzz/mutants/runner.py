"""Run the harness against mutants, one process per mutant, and measure how fast it catches each.

A mutant runs in a fresh Python process (`python -m fuzz.mutants.runner JOB.json`) whose
working directory is a temp dir holding the mutated `optimized/` copy; the process puts that
dir first on `sys.path` (and checks that `import optimized` really loaded the copy) and gets its
own `NUMBA_CACHE_DIR`, so a mutant's compiled code never mixes with another's or the real one.

By default the mutated code runs as plain Python (`NUMBA_DISABLE_JIT=1`; `RunConfig.jit`
turns compilation on): the semantics are the same code's, and a cold compile per mutant would
cost far more than the search.

In the process: import and JIT warm-up (`setup_seconds`, not counted), then fast mode
(`fuzz.modes.fast.run_episode`: seeded world episodes, the candidate in batch) until the first
divergence or the budget; with mode "both" Hypothesis mode (`fuzz.modes.machine`) gets the rest of the
time budget if fast mode found nothing.  A divergence is minimized with a time cap.  Seeds are
fixed: episode `e` of seed `s` uses `s * 100000 + e`, the same for every mutant.

Measures (see `MutantResult`): `steps` = world actions up to and including the one whose call
diverged, `calls` = API calls up to the diverging one, `seconds` = wall time from the end of
warm-up to the detection, `trace_len`/`min_len` = ops in the failing / minimized trace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from fuzz.mutants.apply import PACKAGE, MutantError, mutated_copy
from fuzz.mutants.catalogue import Mutant
from reference.api import SwapImpl

REPO_ROOT = Path(__file__).resolve().parents[2]
EPISODE_SEED_STRIDE = 100_000
# Hard wall-clock allowance on top of the budgets (imports, warm-up, trace writing), and the
# extra allowance for a cold numba compile of the whole package when `jit` is on.
PROCESS_SLACK_SECONDS = 180.0
JIT_COMPILE_SLACK_SECONDS = 900.0
HYPOTHESIS_EXAMPLES_PER_ROUND = 20


@dataclass
class RunConfig:
    """How to run each mutant."""

    budget: float = 60.0  # seconds of search per mutant (warm-up excluded)
    steps: int | None = None  # world actions per mutant, shared by the modes (None: time only)
    mode: str = "both"  # fast | hypothesis | both
    seed: int = 0
    episode_steps: int = 1000
    chunk: int = 400
    minimize_seconds: float = 20.0  # 0: do not minimize
    out: str | None = None  # folder for failing traces (None: keep none)
    level: str = "allocator"
    same_device: bool = True  # the accounting level's switch (fuzz.accounting)
    fast_share: float = 0.5  # share of the time budget fast mode gets in mode "both"
    # Compile the mutant with numba (a cold compile per mutant: its cache cannot be shared).
    # Off by default: the mutated source runs as plain Python (NUMBA_DISABLE_JIT=1, the same
    # code the `nojit` lane tests), which changes no result and skips the compile.
    jit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class MutantResult:
    """One row of the mutant table."""

    name: str
    source: str
    profile: str
    status: str = "error"  # caught | survived | equivalent | error
    mode: str | None = None  # the mode that caught it
    steps: int | None = None
    calls: int | None = None
    seconds: float | None = None
    setup_seconds: float | None = None
    searched_steps: int = 0  # world actions run in total (all modes)
    call: str | None = None  # the first diverging call
    kind: str | None = None  # the divergence kind (fuzz.replay)
    trace_len: int | None = None
    min_len: int | None = None
    min_capped: bool = False  # minimization hit its time cap
    trace: str | None = None
    min_trace: str | None = None
    equivalent: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ============================================================================================
# Parent side: one subprocess per mutant, several in parallel
# ============================================================================================


def run_mutant(mutant: Mutant, config: RunConfig, *, package_dir: Path | None = None) -> MutantResult:
    """Apply the mutant to a temp copy and run the campaign against it in a subprocess."""
    base = MutantResult(mutant.name, mutant.source, mutant.profile, equivalent=mutant.equivalent)
    try:
        with mutated_copy(mutant, package_dir) as root:
            return _run_in_process(mutant, config, root, base)
    except MutantError as err:
        base.error = str(err)
        return base


def _run_in_process(mutant: Mutant, config: RunConfig, root: Path, base: MutantResult) -> MutantResult:
    settings = config.to_dict()
    if config.out:  # the child runs in the temp dir: a relative path would vanish with it
        settings["out"] = str(Path(config.out).resolve())
    job = {"mutant": mutant.name, "profile": mutant.profile, "root": str(root), "config": settings}
    job_path = root / "job.json"
    result_path = root / "result.json"
    job["result"] = str(result_path)
    job_path.write_text(json.dumps(job))
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(root / "numba-cache")
    if not config.jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    limit = config.budget + config.minimize_seconds + PROCESS_SLACK_SECONDS
    if config.jit:
        limit += JIT_COMPILE_SLACK_SECONDS
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fuzz.mutants.runner", str(job_path)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        base.error = f"the mutant's process ran past {limit:.0f} s and was killed"
        return base
    if not result_path.is_file():
        base.error = _last_line(proc.stderr) or f"the mutant's process exited with {proc.returncode}"
        return base
    data = json.loads(result_path.read_text())
    names = {f.name for f in fields(MutantResult)}
    result = MutantResult(**{k: v for k, v in data.items() if k in names})
    result.source, result.equivalent = mutant.source, mutant.equivalent
    if result.status == "survived" and mutant.equivalent is not None:
        result.status = "equivalent"
    return result


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_mutants(
    mutants: Sequence[Mutant],
    config: RunConfig,
    *,
    workers: int = 1,
    package_dir: Path | None = None,
    on_done: Callable[[MutantResult], None] | None = None,
) -> list[MutantResult]:
    """Run every mutant (`workers` processes at a time); results in the given order."""

    def one(mutant: Mutant) -> MutantResult:
        result = run_mutant(mutant, config, package_dir=package_dir)
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, mutants))


def summarize(results: Sequence[MutantResult]) -> dict[str, Any]:
    """Score and catch statistics (median and worst steps/calls/seconds over caught mutants)."""
    scored = [r for r in results if r.equivalent is None]
    caught = [r for r in results if r.status == "caught"]
    out: dict[str, Any] = {
        "mutants": len(results),
        "scored": len(scored),
        "caught": sum(1 for r in scored if r.status == "caught"),
        "survived": [r.name for r in scored if r.status == "survived"],
        "errors": [r.name for r in results if r.status == "error"],
        "equivalent": [r.name for r in results if r.equivalent is not None],
    }
    for key in ("steps", "calls", "seconds", "min_len"):
        values = sorted(getattr(r, key) for r in caught if getattr(r, key) is not None)
        out[key] = {"median": _median(values), "worst": values[-1] if values else None}
    return out


def all_caught(results: Sequence[MutantResult]) -> bool:
    return all(r.status == "caught" for r in results if r.equivalent is None)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# ============================================================================================
# Child side: runs inside the mutant's process
# ============================================================================================


def _load_candidate(root: str) -> type:
    sys.path.insert(0, root)
    import importlib

    module = importlib.import_module(PACKAGE)
    where = Path(module.__file__ or "").resolve()
    if Path(root).resolve() not in where.parents:
        raise RuntimeError(f"'import {PACKAGE}' loaded {where}, not the mutated copy under {root}")
    return module.OptimizedSwap


def _plain(value: Any) -> Any:
    """JSON-ready copy of snapshot data: numpy scalars (plain-Python numba code) become ints."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (bool, int, float, str)):
        return value.item()
    return value


def _plain_snapshots(candidate_cls: type) -> type:
    """Under NUMBA_DISABLE_JIT the kernels run as Python over numpy arrays and may put numpy
    scalars where the compiled code gives ints; compare values, not scalar types."""
    from reference.api import Snapshot

    class Plain(candidate_cls):
        def snapshot(self, level: str = "allocator") -> Snapshot:
            return Snapshot(_plain(super().snapshot(level).data))

    Plain.__name__ = Plain.__qualname__ = candidate_cls.__name__
    Plain.__module__ = candidate_cls.__module__
    return Plain


def _warm_up(candidate_cls: type, reference_cls: type) -> bool:
    """Compile the candidate's kernels on a short valid trace (results are not compared).

    Returns False when the candidate's snapshots are not plain JSON data (numpy scalars)."""
    from fuzz.choosers import RandomChooser
    from fuzz.impls import build
    from fuzz.modes.fast import RecordingExecutor
    from fuzz.world import World, draw_geometry
    from reference.api import encode_calls, run_call

    chooser = RandomChooser("swapdiff-mutants-warm-up")
    geo = draw_geometry(chooser, small=True)
    kw = {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}
    executor = RecordingExecutor(build(reference_cls, **kw))
    world = World(geo, executor, profile="default")
    world.setup()
    for _ in range(300):
        world.step(chooser)
    plain = True
    for runner in (_batch, _stepwise):
        candidate = build(candidate_cls, **kw)
        try:
            runner(candidate, executor.calls, encode_calls, run_call)
            candidate.check_invariants()
        except Exception:
            pass  # a mutant may break here; the campaign reports it properly
        try:
            candidate.snapshot("allocator").to_json()
        except TypeError:
            plain = False
        except Exception:
            pass
    return plain


def _batch(candidate: SwapImpl, calls: list, encode_calls: Callable, run_call: Callable) -> None:
    candidate.apply(encode_calls(calls))


def _stepwise(candidate: SwapImpl, calls: list, encode_calls: Callable, run_call: Callable) -> None:
    for call in calls:
        run_call(candidate, call)


def _world_steps_until(seed: int, profile: str, reference_cls: type, calls: list) -> int | None:
    """World actions of episode `seed` until it issued `calls` (fast mode is deterministic);
    None if replaying the episode's start does not reproduce those calls."""
    from fuzz.choosers import RandomChooser
    from fuzz.impls import build
    from fuzz.modes.fast import RecordingExecutor
    from fuzz.swarm import episode_setup
    from fuzz.world import World

    try:
        chooser = RandomChooser(seed)
        geo, swarm = episode_setup(chooser, None, profile=profile, small=True)
        kw = {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}
        executor = RecordingExecutor(build(reference_cls, **kw))
        world = World(geo, executor, profile=profile, **swarm.world_kwargs())
        world.setup()
        steps = 0
        while len(executor.calls) < len(calls):
            world.step(chooser)
            steps += 1
        return steps if executor.calls[: len(calls)] == list(calls) else None
    except Exception:
        return None


class _Search:
    """Budget bookkeeping shared by the modes of one mutant's run."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.started = time.perf_counter()
        self.steps = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def steps_left(self) -> int | None:
        return None if self.config.steps is None else self.config.steps - self.steps


def _fast(search: _Search, result: MutantResult, candidate_cls: type, reference_cls: type, share: float):
    from fuzz.modes.fast import run_episode

    cfg = search.config
    deadline = cfg.budget * share
    calls = 0
    episode = 0
    while search.elapsed() < deadline:
        left = search.steps_left()
        if left is not None and left <= 0:
            break
        seed = cfg.seed * EPISODE_SEED_STRIDE + episode
        n = cfg.episode_steps if left is None else min(cfg.episode_steps, left)
        run = run_episode(
            reference_cls,
            candidate_cls,
            seed=seed,
            steps=n,
            profile=result.profile,
            level=cfg.level,
            same_device=cfg.same_device,
            chunk=cfg.chunk,
            # As plain Python the kernels' per-op digest pass over the state costs about 4x the
            # search rate, so unless the mutant is compiled the search checks state per chunk
            # (results still per op): the catalogue's bugs leave lasting damage, and the
            # Hypothesis half of the budget still compares state digests after every call.
            per_op_state=cfg.jit or cfg.level == "accounting",  # accounting runs op by op
            keep_going=lambda _done: search.elapsed() < deadline,
        )
        if run.divergence is not None:
            assert run.trace is not None  # run_episode writes a trace for every divergence
            at = run.divergence.step + 1
            within = _world_steps_until(seed, result.profile, reference_cls, run.trace.calls[:at])
            result.steps = None if within is None else search.steps + within
            result.calls = calls + at
            search.steps += run.steps
            return run.trace, run.divergence
        search.steps += run.steps
        calls += run.ops
        episode += 1
    return None, None


def _hypothesis(search: _Search, result: MutantResult, candidate_cls: type, reference_cls: type):
    """Rounds of the Hypothesis state machine (`fuzz.modes.hypothesis_round`) until the budget ends."""
    from fuzz.modes.hypothesis_round import run_round

    cfg = search.config

    def keep_going(done: int) -> bool:
        search.steps += done
        left = search.steps_left()
        return search.elapsed() < cfg.budget and (left is None or left > 0)

    round_no = 0
    while keep_going(0):
        found = run_round(
            reference_cls,
            candidate_cls,
            seed=cfg.seed * EPISODE_SEED_STRIDE + round_no,
            profile=result.profile,
            geometry=None,
            level=cfg.level,
            same_device=cfg.same_device,
            max_examples=HYPOTHESIS_EXAMPLES_PER_ROUND,
            keep_going=keep_going,
        )
        if found.divergence is not None and found.trace is not None:
            result.steps = search.steps
            result.calls = len(found.trace.steps)
            return found.trace, found.divergence
        round_no += 1
    return None, None


def worker(job: dict[str, Any]) -> MutantResult:
    """The body of a mutant's process."""
    t0 = time.perf_counter()
    config = RunConfig.from_dict(job["config"])
    result = MutantResult(job["mutant"], "", job["profile"])
    candidate_cls = _load_candidate(job["root"])
    from reference.model import ReferenceSwap

    if not _warm_up(candidate_cls, ReferenceSwap):
        candidate_cls = _plain_snapshots(candidate_cls)
    result.setup_seconds = round(time.perf_counter() - t0, 3)
    search = _Search(config)
    trace = divergence = None
    if config.mode in ("fast", "both"):
        share = config.fast_share if config.mode == "both" else 1.0
        trace, divergence = _fast(search, result, candidate_cls, ReferenceSwap, share)
        result.mode = "fast"
    if trace is None and config.mode in ("hypothesis", "both"):
        trace, divergence = _hypothesis(search, result, candidate_cls, ReferenceSwap)
        result.mode = "hypothesis"
    result.searched_steps = search.steps
    if trace is None or divergence is None:
        result.status, result.mode = "survived", None
        return result
    result.seconds = round(search.elapsed(), 3)
    result.status = "caught"
    result.call = str(divergence.call)
    result.kind = divergence.kind
    result.trace_len = len(trace.steps)
    _finish(result, trace, config, candidate_cls, ReferenceSwap)
    return result


def _finish(result: MutantResult, trace: Any, config: RunConfig, candidate_cls: type, reference_cls: type):
    from fuzz.minimize import minimize_trace
    from fuzz.trace import write_trace

    small = None
    if config.minimize_seconds > 0:
        found = minimize_trace(
            trace, reference_cls, candidate_cls, level=config.level, max_seconds=config.minimize_seconds
        )
        small, result.min_capped = found.trace, found.capped
        result.min_len = len(small.steps)
    if config.out:
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        result.trace = str(out / f"{result.name}.jsonl")
        write_trace(result.trace, trace)
        if small is not None:
            result.min_trace = str(out / f"{result.name}.min.jsonl")
            write_trace(result.min_trace, small)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry of a mutant's process: `python -m fuzz.mutants.runner JOB.json`."""
    args = list(sys.argv[1:] if argv is None else argv)
    job = json.loads(Path(args[0]).read_text())
    try:
        result = worker(job)
    except Exception as err:
        error = " ".join(f"{type(err).__name__}: {err}".split())[:500]
        result = MutantResult(job["mutant"], "", job["profile"], error=error)
    data = result.to_dict()
    fd, tmp = tempfile.mkstemp(dir=Path(job["result"]).parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, job["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
