"""Hypothesis mode explores from its first example: the all-zero example (Hypothesis' first,
and the shrink target) already runs the swap lifecycle, and the next examples run the
profile's mix instead of mostly the first action of the weight table."""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from fuzz.modes.hypothesis_settings import profile_settings
from fuzz.modes.machine import make_machine
from reference.model import ReferenceSwap

EXAMPLES = 4


def _first_examples(profile: str) -> list[Counter[str]]:
    machine = make_machine(ReferenceSwap, ReferenceSwap, profile=profile)
    seen: list[Counter[str]] = []
    teardown = machine.teardown

    def record(self) -> None:
        if self.world is not None:
            seen.append(Counter(self.world.rule_counts))
        teardown(self)

    machine.teardown = record
    run_state_machine_as_test(
        machine, settings=settings(profile_settings("ci"), max_examples=EXAMPLES, stateful_step_count=40)
    )
    return seen


def test_first_examples_reclaim_swap_in_and_fork():
    examples = _first_examples("usemem")
    assert len(examples) == EXAMPLES
    # The all-zero example (Hypothesis' first, and the shrink target) runs the lifecycle; every
    # example at least faults pages in and reclaims them.  Which swap-ins a later example does
    # is the engine's choice (a loaded full-suite run drew one without), so it is not pinned.
    assert {"anon_fault_new", "reclaim_full", "swapin_fault"} <= set(examples[0]), examples[0]
    for counts in examples:
        assert {"anon_fault_new", "reclaim_full"} <= set(counts), counts
    # Past the minimal examples, a pick is spread over the whole table: no action takes the
    # lion's share, and many different ones run.
    for counts in examples[2:]:
        assert len(counts) >= 10, counts
        assert counts.most_common(1)[0][1] <= 0.5 * sum(counts.values()), counts
