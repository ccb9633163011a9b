"""Fast lockstep mode: seeded random traces from the world model, the candidate run in batch.

Hypothesis spends most of a step on its own bookkeeping.  Here the world model drives the
REFERENCE alone, through a recording executor (calls, encoded results and the reference's
state digest after every call, `reference.digest`), and every `chunk` ops the candidate
replays the recorded calls in one `apply(ops, digests=level)` call, which returns its result
and state digest after every op.  Both are compared op by op, so a state difference that heals
inside the chunk is still seen; then, as the backstop against a digest collision, the full
snapshots at the chosen level and both `check_invariants()` are compared once per chunk.
Only when a chunk disagrees is the episode replayed from its start step by step
(`fuzz.replay.Stepper`) to find the first diverging op, and the trace up to it is built.

A batch `apply` never calls the candidate's Python methods, so a bug in the facade (the
methods a user calls, e.g. `optimized/swap.py` translating arguments for the kernels) would be
invisible to it.  So every chunk also runs a window of `1/FACADE_SHARE` of its ops op by op
through the candidate's public methods, on the same instance, in between two batch parts; the
window's place in the chunk is drawn from the episode seed and the chunk number, so episodes
stay deterministic.  The results of both parts are compared with the reference's, so a facade
that disagrees with the kernels on any call in a window is caught.

A candidate class that overrides an API method but inherits `apply` is run op by op
(`fuzz.impls.batch_bypasses_overrides`), so no override is bypassed by a batch kernel.

`watch(first, last)`, when given, is told before the candidate runs calls `first..last-1` of
the episode (one call at a time on the method path, a whole part on the batch path), with
`first == last` before its snapshot and invariants are checked after call `last - 1`, and
`(-1, -1)` when the candidate is idle again: the campaign's hang watchdog uses it to name the
call a hung candidate was running.

A process's first chunks do not wait for the batch kernels.  A JIT candidate's `apply` is one
kernel that calls every op kernel, so its first call in a process compiles all of them (about
half a minute on an empty numba cache) before anything is compared.  A candidate that says so
(`batch_ready()` returns False: `OptimizedSwap` until its batch kernel is compiled or loaded
in this process) runs the first `WARM_CHUNKS` chunks of its class in the process through its
methods, which compile only the op kernels the chunk calls, and the next chunk is a batch.
The checks are the same on both paths (results and state digests after every op, snapshots
and invariants at the end of the chunk), and the chunks are the same size on both: only the
path differs, so a cold process and a warm one give the same bytes for the same seed.  A
candidate without `batch_ready` is batched from its first chunk.

An episode is one world on fresh implementations: a geometry (drawn from the episode's seed
unless fixed), `World.setup()`, then `steps` world actions.  Episodes keep traces short
enough to locate and minimize.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fuzz.events import error_labels, labels_for
from fuzz.features import FeatureTracker
from fuzz.impls import batch_bypasses_overrides, batch_digests, build, digest_reader
from fuzz.lockstep import QUERY_CALLS
from fuzz.replay import StepDivergence, Stepper, make_trace
from fuzz.trace import Trace
from reference.api import (
    Call,
    SwapContractError,
    SwapImpl,
    contract_error_result,
    encode_calls,
    encode_result,
    run_call,
)

if TYPE_CHECKING:
    from fuzz.checkpoint import Checkpoint
    from fuzz.corpus import Guide, Seed

DEFAULT_CHUNK = 2000
DEFAULT_EPISODE_STEPS = 5000
# One op in FACADE_SHARE of every batch chunk runs through the candidate's methods.
FACADE_SHARE = 8

Watch = Callable[[int, int], None]

# How many first chunks each candidate class runs in a process through its methods (module
# docstring); `_method_chunks` counts them per class.  Only the path changes, never a chunk's
# size: chunk boundaries are recorded (a guided corpus keeps them, the facade window is drawn
# per chunk), and the same seed must give the same bytes in a cold process and a warm one.
WARM_CHUNKS = 4
_method_chunks: Counter[type] = Counter()


class RecordingExecutor:
    """The world's executor in fast mode: runs the reference and records every call.

    With `labels` on, it also takes the reference's allocator snapshot around each call and
    counts `fuzz.events.labels_for` labels (costly: campaigns sample some episodes).
    """

    def __init__(
        self,
        reference: SwapImpl,
        *,
        labels: Counter[str] | None = None,
        level: str | None = None,
        features: FeatureTracker | None = None,
    ) -> None:
        self.reference = reference
        self.features = features  # guided rounds: `fuzz.features` around every call
        self.calls: list[Call] = []
        self.results: list[int] = []
        # With a level: the reference's state digest after every call (queries repeat it).
        self.digests: list[int] | None = None
        self._digest_of: Callable[[], int] | None = None
        if level is not None:
            self._digest_of = digest_reader(reference, level)
            self._last_digest = self._digest_of()
            self.digests = []
        self.labels = labels
        self._before: Any = None  # the reference's allocator snapshot after the last change

    def call(self, call: Call) -> Any:
        self.calls.append(call)
        labels = self.labels
        if labels is not None and self._before is None:
            self._before = self.reference.snapshot("allocator")
        features = self.features
        if features is not None:
            features.before(call)
        try:
            value = call.invoke(self.reference)
        except SwapContractError as err:
            self.results.append(contract_error_result(err.code))
            if features is not None:
                features.after(call, self.results[-1])
            if labels is not None:  # misuse has labels too (a large swap-in over BAD slots)
                labels.update(error_labels(call, err.code, self._before))
            self._record_digest(call)
            raise  # a rejected call changes nothing, so `_before` stays right
        encoded = encode_result(call.name, value)
        self.results.append(encoded)
        if features is not None:
            features.after(call, encoded)
        self._record_digest(call)
        if labels is not None and call.name not in QUERY_CALLS:
            after = self.reference.snapshot("allocator")
            labels.update(
                labels_for(call, encoded, self._before, after, cluster_size=self.reference.cluster_size)
            )
            self._before = after
        return value

    def _record_digest(self, call: Call) -> None:
        digests, digest_of = self.digests, self._digest_of
        if digests is None or digest_of is None:
            return
        if call.name not in QUERY_CALLS:
            self._last_digest = digest_of()
        digests.append(self._last_digest)


@dataclass
class EpisodeResult:
    """What one fast episode did and found."""

    seed: int
    steps: int = 0
    ops: int = 0
    seconds: float = 0.0
    rules: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    divergence: StepDivergence | None = None
    trace: Trace | None = None
    stopped: bool = False


class _Candidate:
    """The candidate side of an episode: its instance and how to feed it a chunk.

    `run` returns the encoded result and the state digest after every call of a chunk; a
    digest is None where the candidate cannot give one per op (its own `apply` takes no
    `digests=`), so only the chunk-end snapshot comparison covers those ops."""

    def __init__(
        self,
        cls: type,
        kw: dict[str, int],
        *,
        seed: int,
        level: str | None,
        watch: Watch | None = None,
        impl: SwapImpl | None = None,
    ) -> None:
        self.impl = build(cls, **kw) if impl is None else impl
        self.cls = cls
        self.batch = not batch_bypasses_overrides(cls)
        self.level = level  # None: no per-op digests (`run_episode(per_op_state=False)`)
        self.batch_digests = level is not None and batch_digests(cls)
        self.digest_of = digest_reader(self.impl, level) if level is not None else None
        self.seed = seed
        self.watch = watch
        self.chunks = 0

    def warming(self) -> bool:
        """True while the candidate's batch is not compiled yet and this process's first
        chunks of its class run (module docstring)."""
        if not self.batch or _method_chunks[self.cls] >= WARM_CHUNKS:
            return False
        ready = getattr(self.impl, "batch_ready", None)
        return ready is not None and not ready(digests=self.batch_digests)

    def run(self, calls: list[Call], start: int) -> tuple[list[Any], list[int | None]] | None:
        """Run `calls` (episode calls `start`..): results and digests, None if the batch crashed."""
        number = self.chunks
        self.chunks += 1
        if self.warming():
            _method_chunks[self.cls] += 1
            return self._methods(calls, start)
        if not self.batch:
            return self._methods(calls, start)
        lo, hi = facade_window(self.seed, number, len(calls))
        head = self._apply(calls[:lo], start)
        window = self._methods(calls[lo:hi], start + lo)
        tail = self._apply(calls[hi:], start + hi)
        if head is None or tail is None:
            return None
        return head[0] + window[0] + tail[0], head[1] + window[1] + tail[1]

    def _apply(self, calls: list[Call], start: int) -> tuple[list[Any], list[int | None]] | None:
        if not calls:
            return [], []
        try:
            ops = encode_calls(calls)
        except (TypeError, ValueError):
            return self._methods(calls, start)  # a misuse argument with no integer encoding
        if self.watch is not None:
            self.watch(start, start + len(calls))
        try:
            if self.batch_digests:
                results, digests = self.impl.apply(ops, digests=self.level)
                return [int(r) for r in results], [int(d) for d in digests]
            return [int(r) for r in self.impl.apply(ops)], [None] * len(calls)
        except Exception:
            return None  # a crash inside the batch: locate it step by step

    def _methods(self, calls: list[Call], start: int) -> tuple[list[Any], list[int | None]]:
        watch = self.watch
        digest_of = self.digest_of
        out: list[Any] = []
        digests: list[int | None] = []
        for i, call in enumerate(calls, start):
            if watch is not None:
                watch(i, i + 1)
            out.append(_run_or_crash(self.impl, call))
            if digest_of is None:
                digests.append(None)
                continue
            try:
                digests.append(digest_of())
            except Exception:
                digests.append(_CRASH_DIGEST)
        return out, digests


def facade_window(seed: int, chunk_number: int, n: int) -> tuple[int, int]:
    """The slice `[lo, hi)` of an `n`-op chunk run through the candidate's methods: at least
    one op and `n / FACADE_SHARE` rounded up, placed by the seed and the chunk number."""
    if n <= 0:
        return 0, 0
    size = min(n, -(-n // FACADE_SHARE))
    lo = random.Random(f"swapdiff-facade:{seed}:{chunk_number}").randrange(n - size + 1)
    return lo, lo + size


_CRASH = object()
_CRASH_DIGEST = -1  # never a digest (those are non-negative): a digest reader that raised


def _run_or_crash(impl: SwapImpl, call: Call) -> Any:
    try:
        return run_call(impl, call)
    except Exception:
        return _CRASH


def _agree(reference: SwapImpl, candidate: SwapImpl, level: str) -> bool:
    if reference.snapshot(level).to_json() != candidate.snapshot(level).to_json():
        return False
    try:
        reference.check_invariants()
        candidate.check_invariants()
    except Exception:
        return False
    return True


def run_episode(
    reference_cls: type,
    candidate_cls: type,
    *,
    seed: int,
    steps: int = DEFAULT_EPISODE_STEPS,
    profile: str = "default",
    geometry: Any = None,
    small: bool = True,
    level: str = "allocator",
    chunk: int = DEFAULT_CHUNK,
    per_op_state: bool = True,
    labels: bool = False,
    keep_going: Callable[[int], bool] | None = None,
    watch: Watch | None = None,
    same_device: bool = True,
    guide: Guide | None = None,
) -> EpisodeResult:
    """Run one fast episode of `steps` world actions; stop early on divergence or when
    `keep_going(steps_done_since_last_call)` returns False (it is called once per chunk).
    `watch`: see the module docstring.  `per_op_state=False` is the check of earlier
    versions, kept for comparison (benchmarks, tests): results per op, state only at the end
    of each chunk.  At the accounting level (`fuzz.accounting`) the world drives both sides op
    by op through the translating comparator: a shared op array cannot carry two sides' own
    entries, so there is no batch part (`watch` is not used; `per_op_state=False` is an
    error).  `guide` (a `fuzz.corpus.Guide`) makes the round a guided one: its chooser plays
    the round's tape, its tracker sees every call and it is told where the setup and every
    step end and which candidate chunks ran; a continuation starts from its seed's checkpoint
    (`fuzz.checkpoint`, rebuilt when absent) and `steps` counts its new steps (not at the
    accounting level, which ignores the guide)."""
    from fuzz.choosers import RandomChooser
    from fuzz.swarm import episode_setup
    from fuzz.world import World

    started = time.perf_counter()
    if level == "accounting":
        guide = None  # op by op through the comparator: no recording executor to observe
    chooser = guide.chooser if guide is not None else RandomChooser(seed)
    prefix = guide.prefix if guide is not None else None
    if prefix is not None:
        return _continue(
            guide,
            prefix,
            reference_cls,
            candidate_cls,
            seed=seed,
            steps=steps,
            profile=profile,
            geometry=geometry,
            small=small,
            level=level,
            chunk=chunk,
            per_op_state=per_op_state,
            labels=labels,
            keep_going=keep_going,
            watch=watch,
            started=started,
        )
    geo, swarm = episode_setup(chooser, geometry, profile=profile, small=small)
    kw = {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}
    if level == "accounting":
        if not per_op_state:
            raise ValueError("the accounting level runs op by op: it has no batch or per-chunk check")
        return _accounting_episode(
            reference_cls,
            candidate_cls,
            kw,
            chooser,
            geo,
            swarm,
            seed=seed,
            steps=steps,
            profile=profile,
            chunk=chunk,
            labels=labels,
            keep_going=keep_going,
            started=started,
            same_device=same_device,
        )
    digest_level = level if per_op_state else None
    reference = build(reference_cls, **kw)
    candidate = _Candidate(candidate_cls, kw, seed=seed, level=digest_level, watch=watch)
    executor = RecordingExecutor(reference, level=digest_level)
    world = World(geo, executor, profile=profile, **swarm.world_kwargs())
    return _play(
        _Episode(world, reference, candidate, executor),
        guide,
        chooser,
        reference_cls,
        candidate_cls,
        seed=seed,
        steps=steps,
        profile=profile,
        level=level,
        chunk=chunk,
        labels=labels,
        keep_going=keep_going,
        started=started,
    )


@dataclass
class _Episode:
    """A running fast episode: the world, its reference, the candidate, the recorder."""

    world: Any
    reference: SwapImpl
    candidate: _Candidate
    executor: RecordingExecutor


def _play(
    episode: _Episode,
    guide: Guide | None,
    chooser: Any,
    reference_cls: type,
    candidate_cls: type,
    *,
    seed: int,
    steps: int,
    profile: str,
    level: str,
    chunk: int,
    labels: bool,
    keep_going: Callable[[int], bool] | None,
    started: float,
) -> EpisodeResult:
    """Run `steps` world steps of `episode` (set up here unless it continues a kept one)."""
    world, reference, candidate, executor = (
        episode.world,
        episode.reference,
        episode.candidate,
        episode.executor,
    )
    geo = world.geometry
    result = EpisodeResult(seed=seed)
    executor.labels = result.labels if labels else None
    executor.features = None if guide is None else guide.observe(reference)
    rules_before = Counter(world.rule_counts) if guide is not None and guide.prefix is not None else None
    step_done = guide.step_done if guide is not None else None
    flushed = first = len(executor.calls)  # a continued episode's calls were all checked
    if guide is None or guide.prefix is None:
        world.setup()
        if step_done is not None:
            step_done()
    reported = 0
    while result.steps < steps:
        world.step(chooser)
        result.steps += 1
        if step_done is not None:
            step_done()
        if len(executor.calls) - flushed < chunk:
            continue
        if not _check(episode, guide, flushed, seed, level):
            _locate(result, executor.calls, reference_cls, candidate_cls, geo, seed, profile, level)
            break
        flushed = len(executor.calls)
        going = keep_going is None or keep_going(result.steps - reported)
        reported = result.steps
        if not going:
            result.stopped = True
            break
    unchecked = result.divergence is None and len(executor.calls) > flushed
    if unchecked and not _check(episode, guide, flushed, seed, level):
        _locate(result, executor.calls, reference_cls, candidate_cls, geo, seed, profile, level)
    if guide is not None and guide.wants_checkpoint():
        from fuzz.checkpoint import take

        guide.checkpoint = take(world, reference, candidate.impl, executor, candidate.chunks)
    if keep_going is not None and result.steps > reported:
        keep_going(result.steps - reported)
    result.ops = len(executor.calls) - first
    result.rules = Counter(world.rule_counts)
    if rules_before is not None:  # a continued episode reports the rules of its own steps
        result.rules -= rules_before
    result.seconds = time.perf_counter() - started
    return result


def _check(episode: _Episode, guide: Guide | None, start: int, seed: int, level: str) -> bool:
    """Run the episode's calls from `start` on the candidate and compare (`_flush`); a guided
    round notes the chunk, agreeing or not, so a rebuilt candidate runs the same ones."""
    agreed = _flush(episode.executor, episode.candidate, episode.reference, start, level)
    if guide is not None:
        guide.flushed(len(episode.executor.calls), seed)
    return agreed


def _continue(
    guide: Guide,
    prefix: Seed,
    reference_cls: type,
    candidate_cls: type,
    *,
    seed: int,
    steps: int,
    profile: str,
    geometry: Any,
    small: bool,
    level: str,
    chunk: int,
    per_op_state: bool,
    labels: bool,
    keep_going: Callable[[int], bool] | None,
    watch: Watch | None,
    started: float,
) -> EpisodeResult:
    """A guided round that continues the kept episode `prefix` from its checkpoint (rebuilt
    by replaying its tape when this process holds none)."""
    from fuzz.checkpoint import restore

    digest_level = level if per_op_state else None
    if prefix.checkpoint is None:
        prefix.checkpoint = _rebuild(
            prefix,
            reference_cls,
            candidate_cls,
            profile=profile,
            geometry=geometry,
            small=small,
            level=digest_level,
        )
    checkpoint = prefix.checkpoint
    world, reference, impl = restore(checkpoint)
    kw = {"cluster_size": world.geometry.cluster_size, "max_swapfiles": world.geometry.max_swapfiles}
    candidate = _Candidate(candidate_cls, kw, seed=seed, level=digest_level, watch=watch, impl=impl)
    candidate.chunks = checkpoint.chunks
    executor = RecordingExecutor(reference, level=digest_level)
    executor.calls = list(checkpoint.calls)
    executor.results = list(checkpoint.results)
    if checkpoint.digests is not None and executor.digests is not None:
        executor.digests = list(checkpoint.digests)
        if executor.digests:
            executor._last_digest = executor.digests[-1]
    world.executor = executor
    return _play(
        _Episode(world, reference, candidate, executor),
        guide,
        guide.chooser,
        reference_cls,
        candidate_cls,
        seed=seed,
        steps=steps,
        profile=profile,
        level=level,
        chunk=chunk,
        labels=labels,
        keep_going=keep_going,
        started=started,
    )


def _rebuild(
    prefix: Seed,
    reference_cls: type,
    candidate_cls: type,
    geometry: Any,
    *,
    profile: str,
    small: bool,
    level: str | None,
) -> Checkpoint:
    """The checkpoint of a kept episode, by replaying its tape on the reference and its calls
    on the candidate in the chunks it ran them in (so the candidate takes the same paths)."""
    from fuzz.checkpoint import take
    from fuzz.corpus import TapeChooser
    from fuzz.swarm import episode_setup
    from fuzz.world import World

    chooser = TapeChooser(0, prefix.tape)  # the tape holds every draw the prefix made
    geo, swarm = episode_setup(chooser, geometry, profile=profile, small=small)
    kw = {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}
    reference = build(reference_cls, **kw)
    executor = RecordingExecutor(reference, level=level)
    world = World(geo, executor, profile=profile, **swarm.world_kwargs())
    world.setup()
    for _ in range(prefix.steps):
        world.step(chooser)
    candidate = _Candidate(candidate_cls, kw, seed=0, level=level)
    start = 0
    for end, round_seed in prefix.flushes:
        candidate.seed = round_seed
        candidate.run(executor.calls[start:end], start)
        start = end
    return take(world, reference, candidate.impl, executor, candidate.chunks)


def _accounting_episode(
    reference_cls: type,
    candidate_cls: type,
    kw: dict[str, int],
    chooser: Any,
    geo: Any,
    swarm: Any,
    *,
    seed: int,
    steps: int,
    profile: str,
    chunk: int,
    labels: bool,
    keep_going: Callable[[int], bool] | None,
    started: float,
    same_device: bool,
) -> EpisodeResult:
    """A fast episode at the accounting level: the seeded world drives a `Lockstep` over the
    accounting comparator, state compared after every call."""
    from fuzz.lockstep import Divergence, Lockstep
    from fuzz.world import World

    result = EpisodeResult(seed=seed)
    lockstep = Lockstep(
        build(reference_cls, **kw),
        build(candidate_cls, **kw),
        level="accounting",
        labels=labels,
        same_device=same_device,
    )
    world = World(geo, lockstep, profile=profile, **swarm.world_kwargs())
    reported = 0
    try:
        world.setup()
        while result.steps < steps:
            world.step(chooser)
            result.steps += 1
            if result.steps - reported >= chunk // 4 and keep_going is not None:
                going = keep_going(result.steps - reported)
                reported = result.steps
                if not going:
                    result.stopped = True
                    break
        lockstep.finish()
    except Divergence as err:
        calls = [step.call for step in lockstep.history]
        if err.call is not None and err.step == len(calls):
            calls.append(err.call)
        result.divergence = err.found
        result.trace = make_trace(
            calls[: err.step + 1],
            reference_cls,
            candidate_cls,
            geometry=geo.to_dict(),
            seed=seed,
            profile=profile,
            mode="fast",
            level="accounting",
            divergence=err.found,
            same_device=same_device,
        )
    if keep_going is not None and result.steps > reported:
        keep_going(result.steps - reported)
    result.labels.update(lockstep.labels)
    result.ops = lockstep.steps
    result.rules = Counter(world.rule_counts)
    result.seconds = time.perf_counter() - started
    return result


def _flush(
    executor: RecordingExecutor, candidate: _Candidate, reference: SwapImpl, start: int, level: str
) -> bool:
    calls = executor.calls[start:]
    watch = candidate.watch
    try:
        if calls:
            ran = candidate.run(calls, start)
            if ran is None or ran[0] != executor.results[start:]:
                return False
            expected = executor.digests[start:] if executor.digests is not None else []
            if any(d is not None and d != e for d, e in zip(ran[1], expected)):
                return False  # a state difference after some op, even one that heals later
        if watch is not None:
            end = len(executor.calls)
            watch(end, end)  # the candidate's snapshot and invariants
        return _agree(reference, candidate.impl, level)
    finally:
        if watch is not None:
            watch(-1, -1)  # back to the reference's side


def _locate(
    result: EpisodeResult,
    calls: list[Call],
    reference_cls: type,
    candidate_cls: type,
    geometry: Any,
    seed: int,
    profile: str,
    level: str,
) -> None:
    """Replay the episode step by step to find the first divergence and build its trace."""
    kw = {"cluster_size": geometry.cluster_size, "max_swapfiles": geometry.max_swapfiles}
    stepper = Stepper(build(reference_cls, **kw), build(candidate_cls, **kw), level=level)
    divergence = None
    for call in calls:
        _, divergence = stepper.step(call)
        if divergence is not None:
            break
    if divergence is None:
        # Step by step agrees but the batch did not: the candidate's `apply` disagrees with its
        # own methods.  Keep the whole episode so the report can show it.
        divergence = StepDivergence(
            len(calls) - 1, calls[-1], "batch", None, None, [], "apply() disagrees with step-by-step calls"
        )
    shown = calls[: divergence.step + 1]
    result.divergence = divergence
    result.trace = make_trace(
        shown,
        reference_cls,
        candidate_cls,
        geometry=geometry.to_dict(),
        seed=seed,
        profile=profile,
        mode="fast",
        level=level,
        divergence=divergence,
    )


def episode_calls(
    reference_cls: type,
    *,
    seed: int,
    count: int,
    profile: str = "default",
    geometry: Any = None,
    small: bool = True,
    tape: Sequence[int] = (),
) -> tuple[list[Call], Any]:
    """The first `count` calls episode `seed` issues (and its geometry), from the reference
    alone: fast episodes are deterministic, so this rebuilds what a hung worker was running
    (a guided round: the episode that plays `tape`, `fuzz.corpus.TapeChooser`)."""
    from fuzz.corpus import TapeChooser
    from fuzz.swarm import episode_setup
    from fuzz.world import World

    chooser = TapeChooser(seed, tape)
    geo, swarm = episode_setup(chooser, geometry, profile=profile, small=small)
    reference = build(reference_cls, cluster_size=geo.cluster_size, max_swapfiles=geo.max_swapfiles)
    executor = RecordingExecutor(reference)
    world = World(geo, executor, profile=profile, **swarm.world_kwargs())
    world.setup()
    while len(executor.calls) < count:
        world.step(chooser)
    return executor.calls[:count], geo
