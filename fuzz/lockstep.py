"""Run every call on two implementations in lockstep and fail on the first difference.

`Lockstep` is the world's executor in differential runs: each call goes to the reference and
the candidate; their results must be equal (or both raise `SwapContractError` with the same
code, and then neither snapshot may have changed); after every state-changing call both
snapshots must be equal and both `check_invariants()` must pass.  The first failure raises
`Divergence`, whose message names the step, the call, both results and the snapshot diff, so
a reader sees what went wrong without a debugger.  Every executed call is kept in `history`
with its encoded result and the reference's snapshot digest, which is what traces record.
"""

from __future__ import annotations

import hashlib
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

from fuzz import events
from reference.api import (
    OPS_BY_NAME,
    Call,
    Snapshot,
    SwapContractError,
    contract_error_result,
    diff,
    encode_result,
)

# Calls that only read state: their results are compared, but no snapshot is taken after
# them (a replay still catches a query that changed state at the next digest).
QUERY_CALLS = frozenset(
    {"folio_entry", "swap_count", "swap_cache_folio", "swap_shadow", "nr_swap_pages", "total_swap_pages"}
)
CONTEXT_STEPS = 8


class Step(NamedTuple):
    """One executed call: the call, its encoded result (`reference.api.run_call` semantics)
    and the digest of the reference's snapshot after it."""

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


def _digest(text: str) -> str:
    # Same definition as Snapshot.digest(), on JSON already computed for the comparison.
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _invoke(impl: Any, call: Call) -> _Outcome:
    try:
        return _Outcome(value=call.invoke(impl))
    except SwapContractError as err:
        return _Outcome(error=err)
    except Exception:
        return _Outcome(crash=traceback.format_exc(limit=6))


class Lockstep:
    """An executor over a reference and a candidate implementation (instances)."""

    def __init__(
        self,
        reference_impl: Any,
        candidate_impl: Any,
        *,
        level: str = "allocator",
        check_invariants: bool = True,
        labels: bool = True,
    ) -> None:
        self.reference = reference_impl
        self.candidate = candidate_impl
        self.level = level
        self.check = check_invariants
        self.track_labels = labels
        self.history: list[Step] = []
        self.labels: Counter[str] = Counter()
        self.new_labels: list[str] = []  # labels since the last take_labels()
        self.cluster_size = getattr(reference_impl, "cluster_size", None)
        self._ref_snap = self._snapshot(self.reference, "reference", None)
        self._cand_snap = self._snapshot(self.candidate, "candidate", None)
        self._ref_json = self._ref_snap.to_json()
        self._digest = _digest(self._ref_json)
        self._compare_states(None)
        self._check_invariants(None)

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
        self.history.append(Step(call, ref_code, self._digest))
        if ref.error is not None:
            raise ref.error
        return ref.value

    # ---- checks ----

    def _after_change(self, step: int, call: Call, ref: _Outcome, cand: _Outcome) -> None:
        before = self._ref_snap
        ref_snap = self._snapshot(self.reference, "reference", call, step)
        cand_snap = self._snapshot(self.candidate, "candidate", call, step)
        ref_json = ref_snap.to_json()
        if ref.error is not None:
            self._require_unchanged(step, call, ref, cand, ref_snap, cand_snap, ref_json)
        self._ref_snap, self._cand_snap, self._ref_json = ref_snap, cand_snap, ref_json
        self._digest = _digest(ref_json)
        self._compare_states(call, step, ref, cand)
        self._check_invariants(call, step)
        if self.track_labels:
            found = events.labels_for(
                call, ref.encoded(call.name), before, ref_snap, cluster_size=self.cluster_size
            )
            self.labels.update(found)
            self.new_labels.extend(found)

    def _require_unchanged(
        self,
        step: int,
        call: Call,
        ref: _Outcome,
        cand: _Outcome,
        ref_snap: Snapshot,
        cand_snap: Snapshot,
        ref_json: str,
    ) -> None:
        if ref_json != self._ref_json:
            self._fail(
                step,
                call,
                "state: the reference changed state although it raised a contract error",
                ref,
                cand,
                diff_lines=diff(self._ref_snap, ref_snap),
                diff_title="left = reference before, right = after",
            )
        if cand_snap.to_json() != self._cand_snap.to_json():
            self._fail(
                step,
                call,
                "state: the candidate changed state although it raised a contract error",
                ref,
                cand,
                diff_lines=diff(self._cand_snap, cand_snap),
                diff_title="left = candidate before, right = after",
            )

    def _compare_states(
        self, call: Call | None, step: int = -1, ref: _Outcome | None = None, cand: _Outcome | None = None
    ) -> None:
        if self._ref_json != self._cand_snap.to_json():
            self._fail(
                step,
                call,
                f"state: the {self.level} snapshots differ after the call",
                ref,
                cand,
                diff_lines=diff(self._ref_snap, self._cand_snap) or ["(same data, different JSON types)"],
            )

    def _check_invariants(self, call: Call | None, step: int = -1) -> None:
        if not self.check:
            return
        for side, impl in (("reference", self.reference), ("candidate", self.candidate)):
            try:
                impl.check_invariants()
            except Exception as err:
                self._fail(step, call, f"invariant: the {side} broke an invariant: {err}", None, None)

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
