"""Run every call on two implementations in lockstep and fail on the first difference.

`Lockstep` is the world's executor in differential runs: each call goes to the reference and
the candidate; their results must be equal (or both raise `SwapContractError` with the same
code, and then neither state may have changed); after every state-changing call both state
digests (`reference.digest`: 63 bits, kept by each implementation without a snapshot) must be
equal.  Only on a mismatch are the snapshots built and diffed; a full snapshot comparison and
both `check_invariants()` also run every `full_every` state-changing calls, at `finish()` (the
machines call it at the end of every example) and on every mismatch.  The first failure
raises `Divergence`, whose message names the step, the call, both results and the snapshot
diff, so a reader sees what went wrong without a debugger.  Every executed call is kept in
`history` with its encoded result and the reference's state digest.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from fuzz import events
from fuzz.impls import digest_reader
from reference.api import (
    OPS_BY_NAME,
    Call,
    Snapshot,
    SwapContractError,
    contract_error_result,
    diff,
    encode_result,
    run_call,
)
from reference.digest import digest_hex

# Calls that only read state: their results are compared, but no snapshot is taken after
# them (a replay still catches a query that changed state at the next digest).
QUERY_CALLS = frozenset(
    {"folio_entry", "swap_count", "swap_cache_folio", "swap_shadow", "nr_swap_pages", "total_swap_pages"}
)
CONTEXT_STEPS = 8
# State-changing calls between two full snapshot comparisons and invariant checks (plus one
# at every example's end and on every mismatch); README "Performance" has the measurement.
FULL_EVERY = 64


class Step(NamedTuple):
    """One executed call: the call, its encoded result (`reference.api.run_call` semantics)
    and the reference's state digest after it (`reference.digest`, 16 hex digits)."""

    call: Call
    result: int
    digest: str


@dataclass
class _Outcome:
    value: Any = None
    error: SwapContractError | None = None
    crash: str | None = None  # a traceback: the implementation raised something else

    def encoded(self, name: str) -> int | None:
        if self.error is not None:
            return contract_error_result(self.error.code)
        if self.crash is not None:
            return None
        try:
            return encode_result(name, self.value)
        except (TypeError, ValueError, AttributeError):
            return None

    def show(self) -> str:
        if self.error is not None:
            return f"SwapContractError({self.error.code!r})"
        if self.crash is not None:
            return "crashed: " + self.crash.strip().splitlines()[-1]
        return repr(self.value)


class Divergence(AssertionError):
    """The two implementations disagreed (or one broke its own invariants)."""

    def __init__(
        self,
        *,
        step: int,
        call: Call | None,
        reason: str,
        reference_result: str = "",
        candidate_result: str = "",
        diff_lines: list[str] | None = None,
        detail: str = "",
        context: list[str] | None = None,
        diff_title: str = "left = reference, right = candidate",
    ) -> None:
        self.step = step
        self.diff_title = diff_title
        self.call = call
        self.reason = reason
        self.reference_result = reference_result
        self.candidate_result = candidate_result
        self.diff = list(diff_lines or [])
        self.detail = detail
        self.context = list(context or [])
        super().__init__(self._message())

    @property
    def kind(self) -> str:
        """A short signature: result, state, invariant, contract, or crash."""
        return self.reason.split(":", 1)[0]

    def _message(self) -> str:
        where = f"at step {self.step}: {self.call}" if self.call is not None else "in the initial state"
        lines = [f"swapdiff divergence {where}", f"  {self.reason}"]
        if self.reference_result or self.candidate_result:
            lines.append(f"  reference result: {self.reference_result}")
            lines.append(f"  candidate result: {self.candidate_result}")
        if self.diff:
            lines.append(f"  snapshot diff ({self.diff_title}):")
            lines.extend(f"    {line}" for line in self.diff)
        if self.detail:
            lines.append("  " + self.detail.strip().replace("\n", "\n  "))
        if self.context:
            lines.append("  preceding calls:")
            lines.extend(f"    {line}" for line in self.context)
        return "\n".join(lines)


def _invoke(impl: Any, call: Call) -> _Outcome:
    try:
        return _Outcome(value=call.invoke(impl))
    except SwapContractError as err:
        return _Outcome(error=err)
    except Exception:
        return _Outcome(crash=traceback.format_exc(limit=6))


class Lockstep:
    """An executor over a reference and a candidate implementation (instances).

    After every state-changing call the two state digests (`fuzz.impls.digest_reader`) must
    be equal; only when they differ are both snapshots built and diffed.  Every
    `full_every` state-changing calls, at `finish()` and on every mismatch, the full snapshots
    are compared as well (a digest collision can hide a difference, never invent one) and
    both `check_invariants()` run.
    """

    def __init__(
        self,
        reference_impl: Any,
        candidate_impl: Any,
        *,
        level: str = "allocator",
        check_invariants: bool = True,
        labels: bool = True,
        full_every: int = FULL_EVERY,
    ) -> None:
        self.reference = reference_impl
        self.candidate = candidate_impl
        self.level = level
        self.check = check_invariants
        self.track_labels = labels
        self.full_every = max(1, full_every)
        self.history: list[Step] = []
        self.labels: Counter[str] = Counter()
        self.new_labels: list[str] = []  # labels since the last take_labels()
        self.cluster_size = getattr(reference_impl, "cluster_size", None)
        self._ref_digest_of = digest_reader(reference_impl, level)
        self._cand_digest_of = digest_reader(candidate_impl, level)
        # The reference's snapshot after the last change, kept only for the event labels.
        self._ref_snap = reference_impl.snapshot(level) if labels else None
        self._since_full = 0
        self.failed = False  # set by the first Divergence this executor raises
        self._ref_digest = self._read_digest(self._ref_digest_of, "reference", None)
        self._cand_digest = self._read_digest(self._cand_digest_of, "candidate", None)
        self._backstop(None)

    @property
    def steps(self) -> int:
        return len(self.history)

    def take_labels(self) -> list[str]:
        """The event labels produced since the previous call of this method."""
        out, self.new_labels = self.new_labels, []
        return out

    def call(self, call: Call) -> Any:
        """Run `call` on both; return the reference's value or re-raise its contract error."""
        if call.name not in OPS_BY_NAME:
            raise ValueError(f"{call.name!r} has no op code; the lockstep executor runs only encodable calls")
        step = len(self.history)
        ref = _invoke(self.reference, call)
        cand = _invoke(self.candidate, call)
        ref_code = ref.encoded(call.name)
        if ref.crash is not None:
            self._fail(step, call, "crash: the reference raised", ref, cand, detail=ref.crash)
        if cand.crash is not None:
            self._fail(step, call, "crash: the candidate raised", ref, cand, detail=cand.crash)
        if ref_code is None:
            self._fail(step, call, "result: the reference returned a value of the wrong type", ref, cand)
        if (ref.error is None) != (cand.error is None) or ref_code != cand.encoded(call.name):
            kind = "contract" if ref.error is not None or cand.error is not None else "result"
            self._fail(step, call, f"{kind}: the results differ", ref, cand)
        assert ref_code is not None
        if call.name not in QUERY_CALLS:
            self._after_change(step, call, ref, cand)
        self.history.append(Step(call, ref_code, digest_hex(self._ref_digest)))
        if ref.error is not None:
            raise ref.error
        return ref.value

    def finish(self) -> None:
        """The end-of-example check: full snapshots and both invariants.  Nothing after a
        divergence (a teardown's second failure would replace the first one's report)."""
        if self.failed:
            return
        step = len(self.history) - 1
        self._backstop(self.history[-1].call if self.history else None, step)

    # ---- checks ----

    def _after_change(self, step: int, call: Call, ref: _Outcome, cand: _Outcome) -> None:
        ref_digest = self._read_digest(self._ref_digest_of, "reference", call, step)
        cand_digest = self._read_digest(self._cand_digest_of, "candidate", call, step)
        if ref.error is not None:
            for side, impl, before, after in (
                ("reference", self.reference, self._ref_digest, ref_digest),
                ("candidate", self.candidate, self._cand_digest, cand_digest),
            ):
                if before != after:
                    self._fail(
                        step,
                        call,
                        f"state: the {side} changed state although it raised a contract error",
                        ref,
                        cand,
                        diff_lines=self._before_after(impl),
                        diff_title=f"left = {side} before, right = after",
                    )
        self._ref_digest, self._cand_digest = ref_digest, cand_digest
        if ref_digest != cand_digest:
            self._backstop(call, step, ref, cand)
            # Equal snapshots with different digests: a digest reader is broken.
            self._fail(
                step,
                call,
                f"state: the {self.level} state digests differ after the call "
                f"({digest_hex(ref_digest)} != {digest_hex(cand_digest)}) but the snapshots are equal",
                ref,
                cand,
            )
        self._since_full += 1
        if self._since_full >= self.full_every:
            self._backstop(call, step, ref, cand)
        if self.track_labels:
            after = self._snapshot(self.reference, "reference", call, step)
            found = events.labels_for(
                call, ref.encoded(call.name), self._ref_snap, after, cluster_size=self.cluster_size
            )
            self.labels.update(found)
            self.new_labels.extend(found)
            self._ref_snap = after

    def _backstop(
        self, call: Call | None, step: int = -1, ref: _Outcome | None = None, cand: _Outcome | None = None
    ) -> None:
        """Full snapshot comparison and both invariants."""
        self._since_full = 0
        ref_snap = self._snapshot(self.reference, "reference", call, step)
        cand_snap = self._snapshot(self.candidate, "candidate", call, step)
        broken = self._broken_invariants()
        if ref_snap.to_json() != cand_snap.to_json():
            self._fail(
                step,
                call,
                f"state: the {self.level} snapshots differ after the call",
                ref,
                cand,
                diff_lines=diff(ref_snap, cand_snap) or ["(same data, different JSON types)"],
                detail="\n".join(f"also: the {side} broke an invariant: {err}" for side, err in broken),
            )
        if broken:
            side, err = broken[0]
            self._fail(step, call, f"invariant: the {side} broke an invariant: {err}", None, None)

    def _before_after(self, impl: Any) -> list[str]:
        """The diff between `impl`'s state before the last call (rebuilt by replaying the
        history on a fresh instance of its class) and now; [] if it cannot be rebuilt."""
        before = self._replayed(impl)
        if before is None:
            return []
        try:
            return diff(before, impl.snapshot(self.level))
        except Exception:
            return []

    def _replayed(self, impl: Any) -> Snapshot | None:
        try:
            fresh = type(impl)(cluster_size=impl.cluster_size, max_swapfiles=impl.max_swapfiles)
            for past in self.history:
                run_call(fresh, past.call)
            return fresh.snapshot(self.level)
        except Exception:
            return None

    def _read_digest(self, read: Callable[[], int], side: str, call: Call | None, step: int = -1) -> int:
        try:
            return read()
        except Exception:
            self._fail(
                step,
                call,
                f"crash: the {side} state digest raised",
                None,
                None,
                detail=traceback.format_exc(limit=6),
            )
            raise  # unreachable: _fail raises

    def _broken_invariants(self) -> list[tuple[str, Exception]]:
        if not self.check:
            return []
        broken = []
        for side, impl in (("reference", self.reference), ("candidate", self.candidate)):
            try:
                impl.check_invariants()
            except Exception as err:
                broken.append((side, err))
        return broken

    def _snapshot(self, impl: Any, side: str, call: Call | None, step: int = -1) -> Snapshot:
        try:
            return impl.snapshot(self.level)
        except Exception:
            self._fail(
                step,
                call,
                f"crash: the {side} snapshot raised",
                None,
                None,
                detail=traceback.format_exc(limit=6),
            )
            raise  # unreachable: _fail raises

    def _fail(
        self,
        step: int,
        call: Call | None,
        reason: str,
        ref: _Outcome | None,
        cand: _Outcome | None,
        *,
        diff_lines: list[str] | None = None,
        diff_title: str = "",
        detail: str = "",
    ) -> None:
        self.failed = True
        raise Divergence(
            step=step,
            call=call,
            reason=reason,
            reference_result=ref.show() if ref else "",
            candidate_result=cand.show() if cand else "",
            diff_lines=diff_lines,
            detail=detail,
            context=self._context(),
            diff_title=diff_title or "left = reference, right = candidate",
        )

    def _context(self) -> list[str]:
        start = max(0, len(self.history) - CONTEXT_STEPS)
        return [f"{i}: {s.call} -> {s.result}" for i, s in enumerate(self.history[start:], start)]
