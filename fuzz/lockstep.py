"""The executor of differential runs: every call on two implementations, through the comparator.

`Lockstep` is the world's executor in the Hypothesis machines (and anywhere a world drives
two implementations call by call).  It adds to the one comparator, `fuzz.replay.Stepper`,
what an executor needs: it hands the reference's value back to the world (or re-raises its
contract error), keeps `history` (each call with its encoded result and the reference's state
digest), counts event labels, and raises the comparator's first finding as `Divergence`.  So
the machines, fast mode, replay, minimize, campaigns and mutants check calls the same way and
name divergences with one vocabulary (`StepDivergence.kind`, what traces and file names use).

Per state-changing call the two state digests are compared; full snapshots and both
`check_invariants()` run every `full_every` calls, at `finish()` (the machines call it at the
end of every example) and on every mismatch.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from fuzz import events
from fuzz.replay import FULL_EVERY, QUERY_CALLS, StepDivergence, make_stepper
from reference.api import OPS_BY_NAME, Call, Snapshot, SwapImpl
from reference.digest import digest_hex

__all__ = ["FULL_EVERY", "QUERY_CALLS", "Divergence", "Lockstep", "Step"]

CONTEXT_STEPS = 8


class Step(NamedTuple):
    """One executed call: the call, its encoded result (`reference.api.run_call` semantics)
    and the reference's state digest after it (`reference.digest`, 16 hex digits)."""

    call: Call
    result: int
    digest: str


class Divergence(AssertionError):
    """The comparator's finding (`found`, a `fuzz.replay.StepDivergence`) raised as a test
    failure, with the calls that led to it."""

    def __init__(
        self, found: StepDivergence, *, context: list[str] | None = None, late: bool = False
    ) -> None:
        self.found = found
        self.context = list(context or [])
        # True when only the periodic full check saw it: it happened at some call since the
        # previous full check, not necessarily at `step`.
        self.late = late
        super().__init__(self._message())

    @property
    def step(self) -> int:
        return self.found.step

    @property
    def call(self) -> Call | None:
        return self.found.call

    @property
    def kind(self) -> str:
        return self.found.kind

    @property
    def diff(self) -> list[str]:
        return self.found.diff

    @property
    def signature(self) -> tuple[str, str]:
        return self.found.signature

    def _message(self) -> str:
        lines = ["swapdiff " + self.found.describe()]
        if self.context:
            lines.append("  preceding calls:")
            lines.extend(f"    {line}" for line in self.context)
        return "\n".join(lines)


class Lockstep:
    """An executor over a reference and a candidate implementation (instances)."""

    def __init__(
        self,
        reference_impl: SwapImpl,
        candidate_impl: SwapImpl,
        *,
        level: str = "allocator",
        check_invariants: bool = True,
        labels: bool = True,
        full_every: int = FULL_EVERY,
        same_device: bool = True,
    ) -> None:
        self.reference = reference_impl
        self.candidate = candidate_impl
        self.level = level
        self.track_labels = labels
        self.history: list[Step] = []
        self.labels: Counter[str] = Counter()
        self.new_labels: list[str] = []  # labels since the last take_labels()
        self.cluster_size = getattr(reference_impl, "cluster_size", None)
        self.failed = False  # set by the first Divergence this executor raises
        self.comparator = make_stepper(
            reference_impl,
            candidate_impl,
            level=level,
            invariants=check_invariants,
            full_every=full_every,
            same_device=same_device,
        )
        # The accounting level's question for the world: is a logical range one aligned range
        # on the candidate too (so a large swap-in of it can be translated)?  None elsewhere.
        self.contiguous = getattr(self.comparator, "contiguous", None)
        # And: does the candidate hold a logical entry on a given device (swapoff's unuse)?
        self.held_on = getattr(self.comparator, "held_on", None)
        # The reference's snapshots for the event labels (allocator-level at the accounting level).
        self._label_level = "allocator" if level == "accounting" else level
        # The reference's snapshot after the last change, kept only for the event labels.
        self._ref_snap: Snapshot | None = None
        found = self.comparator.check_initial()
        if found is not None:
            self._raise(found)
        if labels:
            self._ref_snap = reference_impl.snapshot(self._label_level)
        self._labelled_digest = self.comparator.reference_state_digest

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
        ran, found = self.comparator.check(call)
        if found is not None:
            self._raise(found)
        assert ran.result is not None
        self.history.append(Step(call, ran.result, digest_hex(self.comparator.reference_state_digest)))
        if self.track_labels and call.name not in QUERY_CALLS:
            # An unchanged reference digest means an unchanged state: label from the kept
            # snapshot instead of building an identical one (a third of the calls here).
            changed = self.comparator.reference_state_digest != self._labelled_digest
            before = self._ref_snap
            assert before is not None  # taken at the start whenever labels are tracked
            after = self.reference.snapshot(self._label_level) if changed else before
            self._labelled_digest = self.comparator.reference_state_digest
            found_labels = events.labels_for(call, ran.result, before, after, cluster_size=self.cluster_size)
            self.labels.update(found_labels)
            self.new_labels.extend(found_labels)
            self._ref_snap = after
        if ran.contract is not None:
            raise ran.contract
        return ran.value

    def finish(self) -> None:
        """The end-of-example check: full snapshots and both invariants.  Nothing after a
        divergence (a teardown's second failure would replace the first one's report)."""
        if self.failed:
            return
        found = self.comparator.finish()
        if found is not None:
            self._raise(found)

    def _raise(self, found: StepDivergence) -> None:
        self.failed = True
        raise Divergence(found, context=self._context(), late=self.comparator.backstop_hit)

    def _context(self) -> list[str]:
        start = max(0, len(self.history) - CONTEXT_STEPS)
        return [f"{i}: {s.call} -> {s.result}" for i, s in enumerate(self.history[start:], start)]
