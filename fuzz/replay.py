"""Lockstep replay of a list of calls (a trace) on a reference and a candidate implementation.

After every call: the encoded results must be equal (a contract error counts as a result, by
its code), a call both sides reject must leave both states unchanged, and the state digests
at the chosen level (`reference.digest`) must be equal; on a digest mismatch, every
`full_every` calls and at the end the snapshots are compared and both `check_invariants()`
must pass.  The first failure is a
`StepDivergence`, whose `signature` (op name, kind) is what `minimize` preserves and what
campaigns deduplicate on.

Kinds: ``result`` (different ordinary results), ``contract:<ref>!=<cand>`` (a contract error on
one side or different codes), ``state`` (equal results, different snapshots), ``misuse-state``
(a rejected call changed a snapshot), ``invariant:<side>``, ``exception:<side>:<Type>`` (a call
raised something other than `SwapContractError`), ``hang`` (a candidate call did not return
within the time allowed: campaigns record it with `--hang-timeout`; replaying such a trace runs
its last call on the candidate in a thread for `hang_timeout` seconds).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from fuzz.impls import build, digest_reader, spec_of
from fuzz.trace import Trace, TraceStep, result_to_json
from reference.api import (
    OPS_BY_NAME,
    Call,
    SwapContractError,
    SwapImpl,
    contract_code_of_result,
    contract_error_result,
    diff,
    encode_result,
)

DIFF_LINES = 20
# Calls that only read state: their results are compared, but no digest is read after them
# (a query that changed state shows at the next digest).
QUERY_CALLS = frozenset(
    {"folio_entry", "swap_count", "swap_cache_folio", "swap_shadow", "nr_swap_pages", "total_swap_pages"}
)
# State-changing calls between two full snapshot comparisons and invariant checks (plus one
# at the end of every example or replay and on every mismatch); docs/harness.md has the
# measurement behind 64.
FULL_EVERY = 64
HANG_REPLAY_SECONDS = 10.0


class CallHung(Exception):
    """A candidate call did not return within its time limit."""


class _Timed:
    """The candidate with its API calls run in a daemon thread, `timeout` seconds at most.

    A call past the limit raises `CallHung` and keeps running in the background (Python
    cannot stop a thread), so nothing else may run on this instance afterwards.  A kernel
    that loops while holding the GIL (a numba function without `nogil`) defeats the limit.
    """

    def __init__(self, impl: SwapImpl, timeout: float) -> None:
        self._impl = impl
        self._timeout = timeout

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._impl, name)
        if name not in _API_NAMES or not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            box: dict[str, Any] = {}

            def target() -> None:
                try:
                    box["value"] = attr(*args, **kwargs)
                except BaseException as err:
                    box["error"] = err

            thread = threading.Thread(target=target, daemon=True, name=f"swapdiff-timed-{name}")
            thread.start()
            thread.join(self._timeout)
            if thread.is_alive():
                raise CallHung(f"{name} did not return within {self._timeout:g} s")
            if "error" in box:
                raise box["error"]
            return box["value"]

        return timed


@dataclass
class StepDivergence:
    """The first step where the candidate disagrees with the reference."""

    step: int
    call: Call | None  # None: the initial state, before any call
    kind: str
    reference_result: Any
    candidate_result: Any
    diff: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def op(self) -> str:
        return self.call.name if self.call is not None else "initial"

    @property
    def signature(self) -> tuple[str, str]:
        return (self.op, self.kind)

    def summary(self) -> dict[str, Any]:
        return {"step": self.step, "op": self.op, "kind": self.kind}

    def describe(self) -> str:
        where = f"at step {self.step}: {self.call}" if self.call is not None else "in the initial state"
        lines = [f"divergence {where}", f"  kind:      {self.kind}"]
        if self.reference_result is not None or self.candidate_result is not None:
            lines.append(f"  reference: {_show_result(self.op, self.reference_result)}")
            lines.append(f"  candidate: {_show_result(self.op, self.candidate_result)}")
        if self.detail:
            lines.append(f"  detail:    {self.detail}")
        if self.diff:
            title = "before != after" if self.kind == "misuse-state" else "reference != candidate"
            lines.append(f"  snapshot diff ({title}):")
            lines.extend(f"    {line}" for line in self.diff[:DIFF_LINES])
            if len(self.diff) > DIFF_LINES:
                lines.append(f"    ... {len(self.diff) - DIFF_LINES} more")
        return "\n".join(lines)


@dataclass
class ReplayOutcome:
    """What a replay saw: steps run, the first divergence, and spec drift against the record."""

    steps_run: int
    divergence: StepDivergence | None = None
    # (step, recorded, now) where the recorded reference result differs from today's reference
    result_drift: list[tuple[int, Any, Any]] = field(default_factory=list)
    digest_drift: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None


_API_NAMES = frozenset(OPS_BY_NAME) | {"snapshot", "check_invariants"}


def _show_result(name: str, value: Any) -> str:
    """An encoded result as a reader wants it: Entry(t, o), True, SwapContractError('code')."""
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)  # an exception description
    shown = result_to_json(name, value)
    if isinstance(shown, dict):
        return f"SwapContractError({shown['error']!r})"
    if isinstance(shown, list):
        return f"Entry({shown[0]}, {shown[1]})"
    return repr(shown)


def digest_of(json_text: str) -> str:
    """The same 16-hex-digit digest as `Snapshot.digest()`, from its JSON text."""
    return hashlib.sha256(json_text.encode()).hexdigest()[:16]


class Ran(NamedTuple):
    """One call's outcome on one implementation."""

    result: int | None  # encoded (a contract error by its code); None if `error`
    error: str | None  # description of an exception other than SwapContractError
    value: Any = None  # the Python return value
    contract: SwapContractError | None = None  # the contract error it raised


def _run_full(impl: SwapImpl, call: Call) -> Ran:
    try:
        value = call.invoke(impl)
    except SwapContractError as err:
        return Ran(contract_error_result(err.code), None, None, err)
    except Exception as err:
        return Ran(None, f"{type(err).__name__}: {' '.join(str(err).split())}")
    try:
        return Ran(encode_result(call.name, value), None, value)
    except Exception as err:
        return Ran(None, f"unencodable result {value!r}: {type(err).__name__}", value)


def _run(impl: SwapImpl, call: Call) -> tuple[int | None, str | None]:
    """(encoded result, None) or (None, exception description) for a non-contract exception."""
    ran = _run_full(impl, call)
    return ran.result, ran.error


def _contract_kind(ref: int, cand: int) -> str | None:
    ref_code, cand_code = contract_code_of_result(ref), contract_code_of_result(cand)
    if ref_code is None and cand_code is None:
        return None
    return f"contract:{ref_code or 'ok'}!={cand_code or 'ok'}"


def _invariants(impl: SwapImpl) -> str | None:
    try:
        impl.check_invariants()
    except Exception as err:
        return f"{type(err).__name__}: {' '.join(str(err).split())}"
    return None


class Comparator(Protocol):
    """The executor of one comparison level, as the modes use it (`make_stepper` builds one):
    `Stepper` for the allocator and contract levels, `fuzz.accounting.AccountingStepper` for
    the accounting level."""

    candidate: Any  # a SwapImpl, or one wrapped by `_Timed` to bound each call
    backstop_hit: bool  # the last full check, not a digest mismatch, found the divergence

    @property
    def reference_digest(self) -> str: ...

    @property
    def reference_state_digest(self) -> int: ...

    def step(self, call: Call) -> tuple[int | None, StepDivergence | None]: ...

    def check(self, call: Call) -> tuple[Ran, StepDivergence | None]: ...

    def check_initial(self) -> StepDivergence | None: ...

    def finish(self) -> StepDivergence | None: ...


class Stepper:
    """Runs calls on both implementations one at a time and checks them after each.

    After every state-changing call the two state digests are compared; the full snapshots
    are built only on a mismatch, and every `full_every` calls (plus `finish()`) as the
    backstop, together with both `check_invariants()`.  With `full_every=1` (the default)
    every call gets the full check, which is what locating the first divergence needs."""

    def __init__(
        self,
        reference: SwapImpl,
        candidate: SwapImpl,
        *,
        level: str = "allocator",
        invariants: bool = True,
        full_every: int = 1,
    ):
        self.reference = reference
        self.candidate = candidate
        self.level = level
        self.invariants = invariants
        self.full_every = max(1, full_every)
        self.steps = 0
        self.calls: list[Call] = []
        self._since_full = 0
        # True once the periodic full check (not a digest mismatch) found the divergence: it
        # may have happened at any call since the previous full check.
        self.backstop_hit = False
        self._ref_digest_of = digest_reader(reference, level)
        self._cand_digest_of = digest_reader(candidate, level)
        self._ref_digest = self._ref_digest_of()
        self._cand_digest = self._cand_digest_of()

    @property
    def reference_digest(self) -> str:
        """The reference's `snapshot(level).digest()`, the digest traces record."""
        return self.reference.snapshot(self.level).digest()

    @property
    def reference_state_digest(self) -> int:
        """The reference's state digest after the last state-changing call."""
        return self._ref_digest

    def step(self, call: Call) -> tuple[int | None, StepDivergence | None]:
        """Run one call; return the reference's encoded result and the divergence, if any."""
        ran, divergence = self.check(call)
        return ran.result, divergence

    def check(self, call: Call) -> tuple[Ran, StepDivergence | None]:
        """Run one call; the reference's outcome (value or contract error included, for an
        executor that hands it on) and the divergence, if any."""
        index = self.steps
        self.steps += 1
        self.calls.append(call)
        ran = _run_full(self.reference, call)
        ref, ref_exc = ran.result, ran.error
        cand, cand_exc = _run(self.candidate, call)
        return ran, self._compare(index, call, ref, ref_exc, cand, cand_exc)

    def check_initial(self) -> StepDivergence | None:
        """The full check of the state before any call."""
        return self._full_check(-1, None, None, None)

    def _compare(
        self,
        index: int,
        call: Call,
        ref: int | None,
        ref_exc: str | None,
        cand: int | None,
        cand_exc: str | None,
    ) -> StepDivergence | None:
        if cand_exc and cand_exc.startswith(f"{CallHung.__name__}:"):
            return StepDivergence(index, call, "hang", ref, cand_exc, [], "")
        if ref_exc or cand_exc:
            side = "reference" if ref_exc else "candidate"
            failure = ref_exc or cand_exc or ""
            kind = f"exception:{side}:{failure.split(':')[0]}"
            return StepDivergence(index, call, kind, ref_exc or ref, cand_exc or cand, [], "")
        assert ref is not None and cand is not None
        if ref != cand:
            kind = _contract_kind(ref, cand) or "result"
            return StepDivergence(index, call, kind, ref, cand, self._snapshot_diff())
        if call.name in QUERY_CALLS:
            return None  # a read changes nothing; if it did, the next digest shows it
        side = "reference"
        try:
            ref_digest = self._ref_digest_of()
            side = "candidate"
            cand_digest = self._cand_digest_of()
        except Exception as err:
            detail = f"state digest: {type(err).__name__}: {' '.join(str(err).split())}"
            return StepDivergence(
                index, call, f"exception:{side}:{type(err).__name__}", ref, cand, [], detail
            )
        if contract_code_of_result(ref) is not None and (
            ref_digest != self._ref_digest or cand_digest != self._cand_digest
        ):
            changed_ref = ref_digest != self._ref_digest
            side, impl = ("reference", self.reference) if changed_ref else ("candidate", self.candidate)
            changes = self._before_after(impl)
            detail = f"the rejected call changed the {side}'s snapshot"
            return StepDivergence(index, call, "misuse-state", ref, cand, changes, detail)
        self._ref_digest, self._cand_digest = ref_digest, cand_digest
        self._since_full += 1
        if ref_digest != cand_digest:
            return self._full_check(index, call, ref, cand)
        if self._since_full >= self.full_every:
            found = self._full_check(index, call, ref, cand)
            self.backstop_hit = found is not None
            return found
        return None

    def finish(self) -> StepDivergence | None:
        """The full check after the last call (the end of a replay)."""
        if not self.calls:
            return None
        found = self._full_check(self.steps - 1, self.calls[-1], None, None)
        self.backstop_hit = found is not None
        return found

    def _full_check(self, index: int, call: Call | None, ref: Any, cand: Any) -> StepDivergence | None:
        self._since_full = 0
        jsons = []
        for side, impl in (("reference", self.reference), ("candidate", self.candidate)):
            try:
                jsons.append(impl.snapshot(self.level).to_json())
            except Exception as err:
                detail = f"snapshot: {type(err).__name__}: {' '.join(str(err).split())}"
                return StepDivergence(
                    index, call, f"exception:{side}:{type(err).__name__}", ref, cand, [], detail
                )
        ref_json, cand_json = jsons
        if ref_json != cand_json:
            return StepDivergence(index, call, "state", ref, cand, _json_diff(ref_json, cand_json))
        if self._ref_digest != self._cand_digest:
            detail = "equal snapshots, different state digests: a digest reader is wrong"
            return StepDivergence(index, call, "state", ref, cand, [], detail)
        if self.invariants:
            for side, impl in (("reference", self.reference), ("candidate", self.candidate)):
                broken = _invariants(impl)
                if broken:
                    return StepDivergence(index, call, f"invariant:{side}", ref, cand, [], broken)
        return None

    def _before_after(self, impl: SwapImpl) -> list[str]:
        """What the last call changed in `impl`: its state before (rebuilt by replaying the
        earlier calls on a fresh instance of its class) against now."""
        try:
            cls: Any = type(impl)  # SwapImpl says nothing of the constructor (DESIGN.md does)
            fresh = cls(cluster_size=impl.cluster_size, max_swapfiles=impl.max_swapfiles)
            for past in self.calls[:-1]:
                _run(fresh, past)
            return diff(fresh.snapshot(self.level), impl.snapshot(self.level))
        except Exception:
            return []

    def _snapshot_diff(self) -> list[str]:
        ref_json = self.reference.snapshot(self.level).to_json()
        cand_json = self.candidate.snapshot(self.level).to_json()
        return _json_diff(ref_json, cand_json)


def make_stepper(
    reference: SwapImpl,
    candidate: SwapImpl,
    *,
    level: str = "allocator",
    invariants: bool = True,
    full_every: int = 1,
    same_device: bool = True,
) -> Comparator:
    """The comparator for `level`: a `Stepper`, or at the accounting level (entries compared
    up to renaming) a `fuzz.accounting.AccountingStepper`."""
    from fuzz.accounting import ACCOUNTING, AccountingStepper

    if level == ACCOUNTING:
        return AccountingStepper(
            reference, candidate, invariants=invariants, full_every=full_every, same_device=same_device
        )
    return Stepper(reference, candidate, level=level, invariants=invariants, full_every=full_every)


def _json_diff(left: str, right: str) -> list[str]:
    return diff(json.loads(left), json.loads(right))


def replay_calls(
    calls: Sequence[Call],
    reference: SwapImpl,
    candidate: SwapImpl,
    *,
    level: str = "allocator",
    invariants: bool = True,
    recorded: Sequence[TraceStep] | None = None,
    last_call_timeout: float | None = None,
    full_every: int = FULL_EVERY,
    same_device: bool = True,
) -> ReplayOutcome:
    """Replay `calls` in lockstep until the first divergence; with `last_call_timeout`, the
    candidate's last call may run that long before it is a ``hang``.

    State digests are compared after every call and full snapshots plus invariants every
    `full_every` calls and at the end; a difference only that backstop saw (an invariant
    break, or a digest collision) is then pinpointed by replaying the calls up to it on fresh
    instances with the full check after every call, so the divergence is the first one."""
    stepper = make_stepper(
        reference,
        candidate,
        level=level,
        invariants=invariants,
        full_every=full_every,
        same_device=same_device,
    )
    outcome = ReplayOutcome(0)
    for index, call in enumerate(calls):
        if last_call_timeout is not None and index == len(calls) - 1:
            stepper.candidate = _Timed(candidate, last_call_timeout)
        ref, divergence = stepper.step(call)
        outcome.steps_run = index + 1
        if recorded is not None:
            _note_drift(outcome, index, recorded[index], ref, stepper)
        if divergence is None and index == len(calls) - 1:
            divergence = stepper.finish()
        if divergence is not None:
            if stepper.backstop_hit and full_every > 1:
                exact = _pinpoint(calls[: index + 1], reference, candidate, level, invariants, same_device)
                divergence = exact or divergence
            outcome.divergence = divergence
            break
    return outcome


def _pinpoint(
    calls: Sequence[Call],
    reference: SwapImpl,
    candidate: SwapImpl,
    level: str,
    invariants: bool,
    same_device: bool,
) -> StepDivergence | None:
    """The first divergence of `calls` with the full check after every call, on fresh
    instances of the two classes (None if they cannot be rebuilt that way)."""
    try:
        kw = {"cluster_size": reference.cluster_size, "max_swapfiles": reference.max_swapfiles}
        stepper = make_stepper(
            type(reference)(**kw),
            type(candidate)(**kw),
            level=level,
            invariants=invariants,
            same_device=same_device,
        )
    except Exception:
        return None
    for call in calls:
        _, divergence = stepper.step(call)
        if divergence is not None:
            return divergence
    return None


def _note_drift(
    outcome: ReplayOutcome, index: int, step: TraceStep, ref: int | None, stepper: Comparator
) -> None:
    if step.result is not None and ref is not None and step.result != ref:
        outcome.result_drift.append((index, step.result, ref))
    if step.digest is not None and step.digest != stepper.reference_digest:
        outcome.digest_drift.append(index)


def replay_trace(
    trace: Trace,
    reference_cls: type,
    candidate_cls: type,
    *,
    level: str | None = None,
    invariants: bool = True,
    hang_timeout: float | None = None,
    same_device: bool | None = None,
) -> ReplayOutcome:
    """Build both implementations from the trace's geometry and replay its calls.

    A trace that recorded a hang (divergence kind ``hang``) runs its last call on the candidate
    with a time limit (`hang_timeout`, default `HANG_REPLAY_SECONDS`), so the replay ends.
    `same_device` (accounting level): the trace's unless given."""
    kw = {"cluster_size": trace.cluster_size, "max_swapfiles": trace.max_swapfiles}
    reference = build(reference_cls, **kw)
    candidate = build(candidate_cls, **kw)
    # Digests were taken at the trace's level; only compare them when replaying at that level.
    check_level = level or trace.level
    recorded = (
        trace.steps if check_level == trace.level else [TraceStep(s.call, s.result) for s in trace.steps]
    )
    hung = (trace.divergence or {}).get("kind") == "hang"
    return replay_calls(
        trace.calls,
        reference,
        candidate,
        level=check_level,
        invariants=invariants,
        recorded=recorded,
        last_call_timeout=(hang_timeout or HANG_REPLAY_SECONDS) if hung else None,
        same_device=trace.same_device if same_device is None else same_device,
    )


def record_reference(
    calls: Sequence[Call], reference: SwapImpl, *, level: str = "allocator"
) -> list[TraceStep]:
    """Run `calls` on the reference alone and record its results and digests."""
    steps = []
    for call in calls:
        result, exc = _run(reference, call)
        steps.append(TraceStep(call, result, digest_of(reference.snapshot(level).to_json())))
        if exc:
            break
    return steps


def record_accounting(
    calls: Sequence[Call], reference: SwapImpl, candidate: SwapImpl, *, same_device: bool = True
) -> list[TraceStep]:
    """Run `calls` at the accounting level and record the results the caller saw (a fork
    the comparator closed shows its common outcome) and the reference's contract digests."""
    stepper = make_stepper(
        reference, candidate, level="accounting", invariants=False, same_device=same_device
    )
    steps = []
    for call in calls:
        ran, divergence = stepper.check(call)
        steps.append(TraceStep(call, ran.result, stepper.reference_digest))
        if ran.result is None or (divergence is not None and divergence.step == len(calls) - 1):
            break
    return steps


def make_trace(
    calls: Sequence[Call],
    reference_cls: type,
    candidate_cls: type,
    *,
    geometry: dict[str, Any],
    seed: int | None,
    profile: str | None,
    mode: str | None,
    level: str = "allocator",
    divergence: StepDivergence | None = None,
    same_device: bool = True,
) -> Trace:
    """A trace of `calls` with the reference's results and digests recorded (at the
    accounting level, as both sides ran them: a closed fork changes what the reference saw)."""
    kw = {"cluster_size": geometry["cluster_size"], "max_swapfiles": geometry["max_swapfiles"]}
    reference = build(reference_cls, **kw)
    if level == "accounting":
        steps = record_accounting(calls, reference, build(candidate_cls, **kw), same_device=same_device)
    else:
        steps = record_reference(calls, reference, level=level)
    return Trace(
        geometry=dict(geometry),
        steps=steps,
        impls={"reference": spec_of(reference_cls), "candidate": spec_of(candidate_cls)},
        seed=seed,
        profile=profile,
        mode=mode,
        level=level,
        divergence=None if divergence is None else divergence.summary(),
        same_device=same_device,
    )
