"""Fuzzing campaigns: workers, budgets, live progress, deduplicated failure traces, the report.

`swapdiff fuzz` runs `workers` processes (spawned, so each imports the implementations
afresh); worker `w` derives every seed from `seed * 1000 + w`, so a campaign with the same
seed, worker count and step budget finds the same traces.  A worker runs rounds until the
budget is spent or the parent says stop:

- fast mode: one `fuzz.modes.fast.run_episode` per round (episode seed `worker_seed * 100000 + k`);
  every `LABEL_EVERY`-th episode also computes coverage labels (they cost two allocator
  snapshots per op, so they are sampled; the report says which fraction).  Every fast round
  tracks state features and pairs (`fuzz.features`).  Guided (`--guided`; not yet the default),
  the worker keeps a corpus (`fuzz.corpus`): each round is fresh or continues a kept episode
  from its checkpoint (`fuzz.checkpoint`), scheduled from the round seed, and every round that
  reached a new feature or pair is kept.  Unguided, every round is a fresh seeded episode;
- hypothesis mode: one run of the state machine from `fuzz.modes.machine` with the `campaign`
  settings profile (bounded examples per round), a failure turned into a trace from the
  failing example's lockstep history;
- both: the two alternate round by round.

Hang watchdog (`hang_timeout`, `--hang-timeout`, default `DEFAULT_HANG_TIMEOUT`; 0 turns it
off): every worker is a process (with one worker too) and writes, into an array shared with the
parent, the round it runs and the calls the candidate is running (`fuzz.modes.fast`'s `watch`: one
call at a time on the method path, a batch part on the batch path, `first == last` while the
candidate's snapshot and invariants are checked, -1 when the candidate is idle) plus a
heartbeat.  When that array has not changed for `hang_timeout` seconds while the candidate
runs (or `IDLE_TIMEOUT` while it is idle: the reference's side, Hypothesis rounds, whose calls
are not watched one by one) the parent kills that worker only, records a divergence of
kind ``hang``, and starts a replacement with the next round.  Fast episodes are deterministic,
so the parent rebuilds the trace up to and including the hung call from the episode seed with
the reference alone; a hang in a Hypothesis round is recorded without a trace.  A hang counts
as a divergence (exit code 1; `report.json` counts them in `totals.hangs`).

Workers send messages to the parent (steps done, rule and label counts, failures).  The
parent keeps one trace per divergence signature (op, kind), the one of the smallest seed so
the result does not depend on message order, writes it atomically to `--out`, shows progress
with rich, and on Ctrl-C tells the workers to stop, keeping everything found so far.  At the
end it writes `report.json` and `report.png` (`fuzz.cli.report`).  Exit code: 0 nothing
diverged, 1 divergences found.

With `--scheduler` the same rounds run as Dask tasks instead (`fuzz.cli.distributed`); with
`--corpus` known divergences are replayed first and new ones shared (`fuzz.cli.corpus`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue as queue_mod
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fuzz.cli import messages
from fuzz.corpus import Corpus
from fuzz.impls import resolve
from fuzz.trace import atomic_write_text, dumps_trace

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from fuzz.corpus import Guide

    # What runs a campaign's rounds: (the campaign's state, its live display) -> None.
    Rounds = Callable[["CampaignState", "_Display"], None]

DEFAULT_TIME = 60.0
LABEL_EVERY = 4
HYPOTHESIS_EXAMPLES_PER_ROUND = 20
SAMPLE_SECONDS = 1.0
MAX_WORKER_ERRORS = 3
EXIT_ERRORS = 3
DEFAULT_HANG_TIMEOUT = 120.0  # a cold numba compile (~40 s) happens inside a worker's first chunk
# The limit while the candidate is not running (spawn and imports, the reference's side of a
# fast chunk, Hypothesis rounds, whose calls are not watched: heartbeats come per example).
IDLE_TIMEOUT = 300.0
MAX_HANGS_PER_WORKER = 5  # then that worker is not replaced
# The shared watch array of a worker: heartbeat, round, first and last call being run.
W_BEAT, W_ROUND, W_FIRST, W_LAST = range(4)


class CampaignError(ValueError):
    """A campaign option is invalid (one-line message)."""

    prog = "swapdiff fuzz"


@dataclass
class CampaignConfig:
    """Everything a worker needs (plain data: it is pickled to spawned workers)."""

    impl: str = "optimized"
    reference: str = "reference"
    profile: str = "default"
    geometry: dict[str, Any] | None = None  # fixed geometry, else drawn per episode
    small: bool = True
    time: float | None = None
    steps: int | None = None
    workers: int = 1
    seed: int = 0
    out: str = "swapdiff-out"
    mode: str = "fast"
    level: str = "allocator"
    same_device: bool = True  # the accounting level's switch (fuzz.accounting)
    episode_steps: int = 2000
    quiet: bool = False
    hang_timeout: float = DEFAULT_HANG_TIMEOUT  # seconds; 0: no watchdog
    scheduler: str | None = None  # a Dask scheduler address: rounds run there (fuzz.cli.distributed)
    connect_timeout: float = 10.0
    corpus: str | None = None  # a shared corpus directory (fuzz.cli.corpus)
    guided: bool = False  # fast rounds grow a corpus of episode prefixes (fuzz.corpus)

    @classmethod
    def from_args(cls, args: Any) -> CampaignConfig:
        _check_profile(args.profile)
        fixed, small = parse_geometry(args.geometry)
        resolve(args.impl)
        resolve(args.reference)
        config = cls(
            impl=args.impl,
            reference=args.reference,
            profile=args.profile,
            geometry=fixed,
            small=small,
            time=args.time,
            steps=args.steps,
            workers=args.workers,
            seed=args.seed,
            out=args.out,
            mode=args.mode,
            level=args.level,
            same_device=getattr(args, "same_device", True),
            quiet=args.quiet,
            corpus=getattr(args, "corpus", None),
            guided=getattr(args, "guided", False),
        )
        if getattr(args, "scheduler", None) is not None or os.environ.get("SWAPDIFF_SCHEDULER"):
            config.scheduler = scheduler_address(getattr(args, "scheduler", None))
            config.connect_timeout = getattr(args, "connect_timeout", None) or config.connect_timeout
        if args.episode_steps:
            config.episode_steps = args.episode_steps
        if getattr(args, "hang_timeout", None) is not None:
            config.hang_timeout = args.hang_timeout
        if config.time is None and config.steps is None:
            config.time = DEFAULT_TIME
        return config

    def worker_steps(self, index: int) -> int | None:
        """This worker's share of a step budget (None: time budget only)."""
        if self.steps is None:
            return None
        share, extra = divmod(self.steps, self.workers)
        return share + (1 if index < extra else 0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def round_mode(self, round_no: int) -> str:
        if self.mode == "both":
            return "fast" if round_no % 2 == 0 else "hypothesis"
        return self.mode

    def round_seed(self, index: int, round_no: int) -> int:
        return (self.seed * 1000 + index) * 100000 + round_no


def scheduler_address(option: str | None) -> str | None:
    """`--scheduler`, else `SWAPDIFF_SCHEDULER`, else None (the local pool)."""
    address = option or os.environ.get("SWAPDIFF_SCHEDULER") or None
    return address.strip() if address else None


def _check_profile(name: str) -> None:
    from fuzz.workloads import PROFILES

    if name not in PROFILES:
        raise CampaignError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})")


def parse_geometry(text: str) -> tuple[dict[str, Any] | None, bool]:
    """`small`/`large` (drawn per episode) or a fixed geometry from JSON text or a JSON file."""
    if text in ("small", "large"):
        return None, text == "small"
    if text.lstrip().startswith("{"):
        source, raw = "--geometry", text
    else:
        path = Path(text)
        if not path.is_file():
            raise CampaignError(f"--geometry {text!r} is not 'small', 'large', JSON text or a file")
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise CampaignError(f"cannot read --geometry file {text!r}: {err}") from None
        source = text
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise CampaignError(
            f"{source}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None
    if isinstance(data, dict) and "swapdiff_trace" in data:
        data = data.get("geometry")  # a trace file: reuse its geometry
    if not isinstance(data, dict):
        raise CampaignError(f"{source}: a geometry must be a JSON object")
    from fuzz.world import Geometry

    try:
        geometry = Geometry.from_dict(data)
    except Exception as err:
        raise CampaignError(f"{source}: invalid geometry: {' '.join(str(err).split())}") from None
    return geometry.to_dict(), True


# --------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------


def failure_name(signature: tuple[str, str]) -> str:
    """The file name of a signature's trace: `<op>-<kind>.jsonl`, filesystem-safe."""
    op, kind = signature
    kind = kind.replace("!=", "-vs-")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{op}-{kind}") + ".jsonl"


class _Worker:
    """One worker's loop; `send` delivers messages, `should_stop` polls the parent."""

    def __init__(
        self,
        config: CampaignConfig,
        index: int,
        send: Callable[[messages.Message], None],
        should_stop,
        *,
        watch: Any = None,
        first_round: int = 0,
        done: int = 0,
        deadline: float | None = None,
        corpus: Corpus | None = None,
    ) -> None:
        self.config = config
        self.index = index
        # Guided or not, the corpus holds the features and pairs this worker has reached.
        self.corpus = Corpus() if corpus is None else corpus
        self.send = send
        self.should_stop = should_stop
        self.seed = config.seed * 1000 + index
        self.budget = config.worker_steps(index)
        if deadline is None and config.time is not None:
            deadline = time.time() + config.time
        self.deadline = deadline
        self.done = done
        self.first_round = first_round
        self.array = watch  # the shared watch array (W_* slots), or None
        self.seen: set[tuple[str, str]] = set()
        self.reference_cls = resolve(config.reference)
        self.candidate_cls = resolve(config.impl)

    def keep_going(self) -> bool:
        if self.should_stop():
            return False
        if self.deadline is not None and time.time() >= self.deadline:
            return False
        return self.budget is None or self.done < self.budget

    def progress(self, steps: int) -> bool:
        self.done += steps
        self.send(messages.Steps(self.index, steps))
        if self.array is not None:
            self.array[W_BEAT] += 1
        return self.keep_going()

    def watch(self, first: int, last: int) -> None:
        """`fuzz.modes.fast`'s watch hook: the candidate is about to run calls first..last-1."""
        array = self.array
        array[W_FIRST] = first
        array[W_LAST] = last
        array[W_BEAT] += 1

    def run(self) -> None:
        round_no, errors = self.first_round, 0
        while self.keep_going() and errors < MAX_WORKER_ERRORS:
            mode = self.config.round_mode(round_no)
            if self.array is not None:
                self.array[W_ROUND] = round_no
                self.array[W_FIRST] = self.array[W_LAST] = -1
                self.array[W_BEAT] += 1
            try:
                if mode == "fast":
                    self.fast_round(round_no)
                else:
                    self.hypothesis_round(round_no)
            except Exception as err:  # a harness bug: report it, carry on with the next round
                errors += 1
                self.send(
                    messages.Error(
                        self.index, f"{mode} round {round_no}: {type(err).__name__}: {_oneline(err)}"
                    )
                )
            round_no += 1

    def remaining(self, cap: int) -> int:
        return cap if self.budget is None else max(0, min(cap, self.budget - self.done))

    def fast_round(self, round_no: int) -> None:
        from fuzz.modes.fast import run_episode

        seed = self.config.round_seed(self.index, round_no)
        labelled = round_no % LABEL_EVERY == 0
        guide = self._guide(seed, round_no)
        steps = self.config.episode_steps if guide is None else guide.plan.steps(self.config.episode_steps)
        result = run_episode(
            self.reference_cls,
            self.candidate_cls,
            seed=seed,
            steps=self.remaining(steps),
            profile=self.config.profile,
            geometry=self._geometry(),
            small=self.config.small,
            level=self.config.level,
            same_device=self.config.same_device,
            labels=labelled,
            keep_going=self.progress,
            watch=None if self.array is None else self.watch,
            guide=guide,
        )
        self._round_done("fast", seed, result, labelled, guide)

    def _guide(self, seed: int, round_no: int) -> Guide | None:
        """The round's guide: its plan from the corpus (always fresh when unguided)."""
        from fuzz.corpus import UNGUIDED, Guide, Plan

        if self.config.level == "accounting":
            return None  # op by op through the comparator: no recording executor to observe
        plan = self.corpus.plan(seed, self.config.episode_steps) if self.config.guided else Plan(UNGUIDED, [])
        if plan.tape:
            self.send(messages.Tape(self.index, round_no, tuple(plan.tape)))
        return Guide(self.corpus, plan, seed)

    def hypothesis_round(self, round_no: int) -> None:
        from fuzz.modes.hypothesis_round import run_round

        seed = self.config.round_seed(self.index, round_no)
        result = run_round(
            self.reference_cls,
            self.candidate_cls,
            seed=seed,
            profile=self.config.profile,
            geometry=self._geometry(),
            level=self.config.level,
            same_device=self.config.same_device,
            max_examples=HYPOTHESIS_EXAMPLES_PER_ROUND,
            keep_going=self.progress,
        )
        self._round_done("hypothesis", seed, result, True)

    def _round_done(
        self, mode: str, seed: int, result: Any, labelled: bool, guide: Guide | None = None
    ) -> None:
        """Report a finished round (an `EpisodeResult` or `RoundResult`) and keep its failure."""
        features: list[str] = []
        pairs: list[str] = []
        kept = False
        if guide is not None:
            kept = guide.finish()
            features, pairs = guide.new_names()
        self.send(
            messages.Round(
                self.index,
                mode,
                result.ops,
                dict(result.rules),
                dict(result.labels),
                labelled,
                tuple(features),
                tuple(pairs),
                "" if guide is None else guide.plan.kind,
                kept,
            )
        )
        if result.divergence is not None and result.trace is not None:
            self.found(result.divergence, result.trace, seed)

    def _geometry(self) -> Any:
        if self.config.geometry is None:
            return None
        from fuzz.world import Geometry

        return Geometry.from_dict(self.config.geometry)

    def found(self, divergence: Any, trace: Any, seed: int) -> None:
        signature = divergence.signature
        if signature in self.seen:
            self.send(messages.Duplicate(self.index, tuple(signature)))
            return
        self.seen.add(signature)
        self.send(
            messages.Failure(self.index, tuple(signature), dumps_trace(trace), divergence.describe(), seed)
        )


def _worker_process(
    config: CampaignConfig,
    index: int,
    queue: Any,
    stop: Any,
    array: Any = None,
    first_round: int = 0,
    done: int = 0,
    deadline: float | None = None,
) -> None:
    # The parent owns Ctrl-C: it sets `stop`, and workers finish their chunk and report.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # Import what rounds need before the first heartbeat arms the watchdog.
        import fuzz.modes.fast
        import fuzz.world

        if config.mode != "fast":
            import fuzz.modes.hypothesis_round  # noqa: F401
        worker = _Worker(
            config,
            index,
            queue.put,
            stop.is_set,
            watch=array,
            first_round=first_round,
            done=done,
            deadline=deadline,
        )
        worker.run()
    except BaseException as err:  # reported to the parent, which shows one line
        queue.put(messages.Error(index, f"{type(err).__name__}: {_oneline(err)}"))
    finally:
        queue.put(messages.Done(index))


# --------------------------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------------------------


@dataclass
class CampaignState:
    """What the parent has gathered so far; `fuzz.cli.report` turns it into report.json/png."""

    config: CampaignConfig
    started: float = field(default_factory=time.monotonic)
    steps: int = 0
    ops: int = 0
    rounds: Counter[str] = field(default_factory=Counter)
    labelled_ops: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    throughput: list[tuple[float, int]] = field(default_factory=list)
    finished_workers: int = 0
    interrupted: bool = False
    new_failures: list[str] = field(default_factory=list)
    ended: float | None = None
    worker_steps: Counter[int] = field(default_factory=Counter)
    done_workers: set[int] = field(default_factory=set)
    distributed: dict[str, Any] | None = None  # the Dask cluster and per-worker throughput
    corpus: dict[str, Any] | None = None  # the --corpus recheck and what this campaign added
    # State features and pairs reached by any worker (fuzz.features), sampled over time as
    # (seconds, steps, features, pairs); fast rounds per kind (fuzz.corpus) and how many were
    # kept; the tape of each worker's running guided round (to rebuild a hung episode).
    features: set[str] = field(default_factory=set)
    pairs: set[str] = field(default_factory=set)
    coverage: list[tuple[float, int, int, int]] = field(default_factory=list)
    round_kinds: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    tapes: dict[int, tuple[int, tuple[int, ...]]] = field(default_factory=dict)

    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def handle(self, message: messages.Message) -> None:
        match message:
            case messages.Steps(worker, steps):
                self.steps += steps
                self.worker_steps[worker] += steps
            case messages.Round(_, mode, ops, rules, labels, labelled, features, pairs, kind, kept):
                self.rounds[mode] += 1
                self.ops += ops
                if labelled:
                    self.labelled_ops += ops
                self.rules.update(rules)
                self.labels.update(labels)
                self.features.update(features)
                self.pairs.update(pairs)
                if kind:
                    self.round_kinds[kind] += 1
                    self.kept += kept
            case messages.Tape(worker, round_no, tape):
                self.tapes[worker] = (round_no, tape)
            case messages.Failure():
                self._failure(message)
            case messages.Duplicate(_, signature):
                if signature in self.failures:
                    self.failures[signature]["hits"] += 1
            case messages.Error(worker, text):
                self.errors.append(f"worker {worker}: {text}")
            case messages.Done(worker):
                self.finished_workers += 1
                self.done_workers.add(worker)
            case _:
                raise TypeError(f"not a campaign message: {message!r}")

    def _failure(self, message: messages.Failure) -> None:
        worker, signature, text, described, seed = (
            message.worker,
            message.signature,
            message.trace,
            message.described,
            message.seed,
        )
        known = self.failures.get(signature)
        # Workers race to report; keep the trace of the smallest seed (worker, then round) so
        # the same campaign writes the same bytes whatever order the messages arrive in.
        if known is not None and known["seed"] <= seed:
            known["hits"] += 1
            return
        path = Path(self.config.out) / failure_name(signature)
        atomic_write_text(path, text)
        record = {"ops": text.count("\n") - 1, "worker": worker, "seed": seed}
        if known is not None:
            known.update(record, hits=known["hits"] + 1)
            return
        self.failures[signature] = {
            "file": str(path),
            "op": signature[0],
            "kind": signature[1],
            **record,
            "hits": 1,
            "first_seen_seconds": round(self.elapsed(), 3),
        }
        self.new_failures.append(f"divergence {signature[0]} [{signature[1]}] -> {path}\n{described}")

    def sample(self) -> None:
        now = round(self.elapsed(), 3)
        self.throughput.append((now, self.steps))
        self.coverage.append((now, self.steps, len(self.features), len(self.pairs)))

    def hang(self, worker: int, round_no: int, first: int, last: int) -> None:
        """Record that worker `worker` hung in round `round_no` while the candidate ran calls
        `first..last-1` (`first == last`: checking its state after call `last - 1`; -1: not
        in a candidate call), with the trace up to the hung call when it can be rebuilt."""
        config = self.config
        mode = config.round_mode(round_no)
        seed = config.round_seed(worker, round_no)
        if mode == "fast" and last > 0:
            played = self.tapes.get(worker)
            tape = played[1] if played is not None and played[0] == round_no else ()
            try:
                text, described, op = _hang_trace(config, seed, first, last, tape)
            except Exception as err:  # a harness bug: keep the hang, say why it has no trace
                self.errors.append(f"worker {worker}: cannot rebuild the hang's trace: {_oneline(err)}")
            else:
                self._failure(messages.Failure(worker, (op, "hang"), text, described, seed))
                return
        signature = (f"{mode}-round", "hang")
        known = self.failures.get(signature)
        if known is not None:
            known["hits"] += 1
            return
        self.failures[signature] = {
            "file": None,
            "op": signature[0],
            "kind": "hang",
            "ops": None,
            "worker": worker,
            "seed": seed,
            "hits": 1,
            "first_seen_seconds": round(self.elapsed(), 3),
        }
        where = "a Hypothesis round" if mode == "hypothesis" else "a fast round, outside a candidate call"
        self.new_failures.append(f"hang: worker {worker} made no progress in {where} (seed {seed})")


def _hang_trace(
    config: CampaignConfig, seed: int, first: int, last: int, tape: tuple[int, ...] = ()
) -> tuple[str, str, str]:
    """(trace text, description, op) of a fast episode (a guided one played `tape`) that hung
    in calls first..last-1."""
    from fuzz.modes.fast import episode_calls
    from fuzz.replay import StepDivergence, make_trace
    from fuzz.world import Geometry

    reference_cls, candidate_cls = resolve(config.reference), resolve(config.impl)
    fixed = None if config.geometry is None else Geometry.from_dict(config.geometry)
    calls, geo = episode_calls(
        reference_cls,
        seed=seed,
        count=last,
        profile=config.profile,
        geometry=fixed,
        small=config.small,
        tape=tape,
    )
    limit = f"{config.hang_timeout:g} s"
    if first == last:
        detail = f"snapshot() or check_invariants() after this call did not return within {limit}"
    elif last - first > 1:
        detail = f"the candidate's apply() of calls {first}..{last - 1} did not return within {limit}"
    else:
        detail = f"the candidate's call did not return within {limit}"
    divergence = StepDivergence(last - 1, calls[-1], "hang", None, "no result", [], detail)
    trace = make_trace(
        calls,
        reference_cls,
        candidate_cls,
        geometry=geo.to_dict(),
        seed=seed,
        profile=config.profile,
        mode="fast",
        level=config.level,
        divergence=divergence,
        same_device=config.same_device,
    )
    return dumps_trace(trace), divergence.describe(), calls[-1].name


def run_campaign(config: CampaignConfig, rounds: Rounds | None = None) -> int:
    """Run the campaign; returns the exit code (0 none, 1 divergences found, 3 harness errors).

    `rounds(state, display)` runs the rounds; by default this machine's worker processes (or,
    with one worker and no watchdog, this process).  `fuzz.cli.distributed` passes its loop
    over a Dask cluster, which sits above this module: campaigns never import it."""
    from fuzz.cli.report import write_report

    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CampaignError(f"cannot create --out {config.out!r}: {err.strerror}") from None
    state = CampaignState(config)
    if config.corpus:
        _recheck_corpus(state, config.corpus)
    with _Display(state) as display:
        if rounds is not None:
            rounds(state, display)
        elif config.workers == 1 and not config.hang_timeout:
            _run_inline(state, display)
        else:
            _run_processes(state, display)
    state.sample()
    state.ended = time.monotonic()
    if state.corpus is not None and config.corpus:
        from fuzz.cli.corpus import add

        state.corpus["added"] = add(config.corpus, state.failures, config)
    write_report(state)
    _print_summary(state)
    if state.failures:
        return 1
    return EXIT_ERRORS if state.errors else 0


def _recheck_corpus(state: CampaignState, corpus: str) -> None:
    """Replay the shared corpus against the candidate first (`fuzz.cli.corpus`)."""
    from fuzz.cli.corpus import recheck

    config = state.config
    try:
        Path(corpus).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CampaignError(f"cannot create --corpus {corpus!r}: {err.strerror}") from None
    state.corpus = recheck(corpus, config.impl, config.reference)
    still = state.corpus["still_diverging"]
    print(
        f"corpus: {state.corpus['replayed']} known divergence(s) replayed, {len(still)} still diverge"
        + "".join(f"\n  {row['op']} [{row['kind']}]: {row['file']}" for row in still),
        file=sys.stderr,
    )


def _oneline(err: BaseException) -> str:
    return " ".join(str(err).split())


def _run_inline(state: CampaignState, display: _Display) -> None:
    """One worker in this process (no watchdog): no spawn cost; Ctrl-C ends the current round."""

    def send(message: messages.Message) -> None:
        state.handle(message)
        display.tick()

    try:
        _Worker(state.config, 0, send, lambda: False).run()
    except KeyboardInterrupt:
        state.interrupted = True
    state.finished_workers = 1


class _Slot:
    """The parent's view of one worker process and its watch array."""

    def __init__(self, ctx: Any, state: CampaignState, index: int, queue: Any, stop: Any, **kw: Any) -> None:
        self.index = index
        self.array = ctx.RawArray("q", 4)
        self.array[W_ROUND] = self.array[W_FIRST] = self.array[W_LAST] = -1
        self.proc = ctx.Process(
            target=_worker_process,
            args=(state.config, index, queue, stop, self.array),
            kwargs=kw,
            daemon=True,
            name=f"swapdiff-worker-{index}",
        )
        self.proc.start()
        self.seen = tuple(self.array)
        self.changed = time.monotonic()

    def stalled(self, now: float, timeout: float) -> bool:
        """True when the worker's watch array has not changed for `timeout` seconds while the
        candidate runs, or for `IDLE_TIMEOUT` (at least) while it does not."""
        seen = tuple(self.array)
        if seen != self.seen:
            self.seen, self.changed = seen, now
            return False
        if seen[W_BEAT] == 0 or seen[W_LAST] < 0:
            timeout = max(timeout, IDLE_TIMEOUT)
        return now - self.changed > timeout


WARM_UP_STEPS = 200


def _warm_up(reference: str, impl: str, level: str) -> None:
    """A short fast episode, run before the workers start: a JIT candidate compiles (and
    caches) every kernel the workers run here once, instead of in every worker at once."""
    from fuzz.modes.fast import run_episode

    run_episode(resolve(reference), resolve(impl), seed=0, steps=WARM_UP_STEPS, level=level)


def _warm_candidate(ctx: Any, config: CampaignConfig) -> None:
    # In a child process, so a candidate that hangs or crashes here cannot take the parent
    # with it: the workers then meet it under the watchdog as usual.
    proc = ctx.Process(target=_warm_up, args=(config.reference, config.impl, config.level), daemon=True)
    proc.start()
    proc.join(timeout=max(config.hang_timeout or 0.0, IDLE_TIMEOUT))
    if proc.is_alive():
        proc.terminate()
        proc.join()


def _run_processes(state: CampaignState, display: _Display) -> None:
    config = state.config
    ctx = multiprocessing.get_context("spawn")
    if config.workers > 1:
        _warm_candidate(ctx, config)
    queue = ctx.Queue()
    stop = ctx.Event()
    wall_deadline = None if config.time is None else time.time() + config.time
    slots = {i: _Slot(ctx, state, i, queue, stop, deadline=wall_deadline) for i in range(config.workers)}
    hangs: Counter[int] = Counter()
    deadline = None if config.time is None else time.monotonic() + config.time + 5.0
    interrupts = 0
    while any(i not in state.done_workers for i in slots):
        try:
            _drain(queue, state, display)
            if not any(slot.proc.is_alive() for slot in slots.values()):
                _drain(queue, state, display, timeout=0.0)
                break
            if deadline is not None and time.monotonic() > deadline:
                stop.set()
            if config.hang_timeout and not state.interrupted:
                now = time.monotonic()
                for index, slot in list(slots.items()):
                    if index in state.done_workers or not slot.proc.is_alive():
                        continue
                    if not slot.stalled(now, config.hang_timeout):
                        continue
                    replacement = _on_hang(ctx, state, slot, queue, stop, hangs, wall_deadline)
                    if replacement is None:
                        del slots[index]
                    else:
                        slots[index] = replacement
                    display.tick()
        except KeyboardInterrupt:
            interrupts += 1
            state.interrupted = True
            stop.set()
            if interrupts >= 2:
                break
    for index, slot in slots.items():
        proc = slot.proc
        proc.join(timeout=5.0)
        if proc.is_alive():
            proc.terminate()
            proc.join()
        elif proc.exitcode not in (0, None) and not state.interrupted:
            state.errors.append(f"worker {index}: exited with code {proc.exitcode}")


def _on_hang(
    ctx: Any,
    state: CampaignState,
    slot: _Slot,
    queue: Any,
    stop: Any,
    hangs: Counter[int],
    wall_deadline: float | None,
) -> _Slot | None:
    """Kill a stalled worker, record the hang, and start its replacement (None: none)."""
    index = slot.index
    slot.proc.kill()
    slot.proc.join()
    _drain(queue, state, None, timeout=0.0)  # what it sent before it hung
    beat, round_no, first, last = tuple(slot.array)
    if beat == 0:
        state.errors.append(f"worker {index}: did not start within {IDLE_TIMEOUT:g} s; killed")
        return None
    state.hang(index, round_no, first, last)
    hangs[index] += 1
    if hangs[index] >= MAX_HANGS_PER_WORKER:
        state.errors.append(f"worker {index}: hung {hangs[index]} times; not replaced")
        return None
    return _Slot(
        ctx,
        state,
        index,
        queue,
        stop,
        first_round=round_no + 1,
        done=state.worker_steps[index],
        deadline=wall_deadline,
    )


def _drain(queue: Any, state: CampaignState, display: _Display | None, timeout: float = 0.2) -> None:
    try:
        message = queue.get(timeout=timeout) if timeout else queue.get_nowait()
    except queue_mod.Empty:
        if display is not None:
            display.tick()
        return
    state.handle(message)
    while True:
        try:
            state.handle(queue.get_nowait())
        except queue_mod.Empty:
            break
    if display is not None:
        display.tick()


class _Display:
    """Live progress (rich) on stderr: elapsed, steps, steps/s, failures, labels hit."""

    def __init__(self, state: CampaignState) -> None:
        self.state = state
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.last_sample = 0.0

    def __enter__(self) -> _Display:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self.console = console
        if not self.state.config.quiet and console.is_terminal:
            self.progress = Progress(
                TextColumn("[bold]swapdiff"),
                BarColumn(bar_width=12),
                TimeElapsedColumn(),
                TextColumn("{task.fields[steps]:,} steps {task.fields[rate]:,.0f}/s"),
                TextColumn("failures {task.fields[failures]} labels {task.fields[labels]}"),
                console=console,
                transient=False,
            )
            self.progress.start()
            total = self.state.config.steps or self.state.config.time
            self.task = self.progress.add_task("fuzz", total=total, steps=0, rate=0.0, failures=0, labels="-")
        return self

    def __exit__(self, *exc: object) -> None:
        self.tick(force=True)
        if self.progress is not None:
            self.progress.stop()

    def tick(self, force: bool = False) -> None:
        state = self.state
        for line in state.new_failures:
            self.console.print(line, highlight=False, markup=False)
        state.new_failures.clear()
        now = state.elapsed()
        if not force and now - self.last_sample < SAMPLE_SECONDS / 4:
            return
        if now - (state.throughput[-1][0] if state.throughput else 0.0) >= SAMPLE_SECONDS:
            state.sample()
        self.last_sample = now
        if self.progress is None or self.task is None:
            return
        from fuzz.cli.report import labels_hit

        hit, total = labels_hit(state.labels)
        completed = state.steps if state.config.steps else min(now, state.config.time or now)
        self.progress.update(
            self.task,
            completed=completed,
            steps=state.steps,
            rate=state.steps / now if now > 0 else 0.0,
            failures=len(state.failures),
            labels=f"{hit}/{total}",
        )


def _print_summary(state: CampaignState) -> None:
    seconds = state.elapsed()
    rate = state.steps / seconds if seconds > 0 else 0.0
    out = sys.stdout
    print(f"swapdiff fuzz: {_compared(state.config)}", file=out)
    print(
        f"  {state.steps:,} steps ({state.ops:,} ops) in {seconds:.1f}s, {rate:,.0f} steps/s, "
        f"{len(state.failures)} divergence(s)" + (" [interrupted]" if state.interrupted else ""),
        file=out,
    )
    for info in state.failures.values():
        print(
            f"  {info['op']} [{info['kind']}] x{info['hits']}: {info['file']} ({info['ops']} ops)", file=out
        )
    for error in state.errors:
        print(f"  error: {error}", file=out)
    from fuzz.cli.report import labels_hit, wanted_labels

    hit, total = labels_hit(state.labels)
    if state.labelled_ops:  # no labelled round, no label line (e.g. a few steps)
        missing = [name for name in wanted_labels() if not state.labels.get(name)]
        print(
            f"  labels: {hit}/{total} reached" + (f"; never: {', '.join(missing)}" if missing else ""),
            file=out,
        )
    out_dir = state.config.out
    print(
        f"  report: {os.path.join(out_dir, 'report.json')} (plot: {os.path.join(out_dir, 'report.png')})",
        file=out,
    )


def _compared(config: CampaignConfig) -> str:
    """What the campaign compared, in one line: who against whom, at which level, how driven."""
    geometry = "drawn per episode" if config.geometry is None else "fixed"
    where = f"on {config.scheduler}" if config.scheduler else f"{config.workers} worker(s)"
    return (
        f"{config.impl} checked against {config.reference} after every call, "
        f"{config.level} level (mode {config.mode}, profile {config.profile}, "
        f"geometry {geometry}, seed {config.seed}, {where})"
    )
