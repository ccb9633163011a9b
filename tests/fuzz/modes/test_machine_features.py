"""Hypothesis mode sees the state features of guided campaigns: `target()` scores what each
example reached first, so Hypothesis' targeting phase mutates the examples that found new
allocator states; the shrinker and the example database are untouched (plain draws)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

import fuzz.modes.machine as machine_module
from fuzz.features import name_of
from fuzz.modes.hypothesis_settings import profile_settings
from fuzz.modes.machine import FEATURE_WEIGHT, make_machine
from reference.model import ReferenceSwap

EXAMPLES = 5
LABEL = "new state features and pairs"


def test_each_example_targets_the_features_and_pairs_it_reached_first(monkeypatch):
    scores: list[float] = []
    real_target = machine_module.target

    def recording_target(observation: float, *, label: str = "") -> None:
        if label == LABEL:
            scores.append(observation)
        real_target(observation, label=label)

    monkeypatch.setattr(machine_module, "target", recording_target)
    machine = make_machine(ReferenceSwap, ReferenceSwap, profile="default")
    run_state_machine_as_test(
        machine, settings=settings(profile_settings("ci"), max_examples=EXAMPLES, stateful_step_count=30)
    )
    assert len(scores) >= EXAMPLES
    assert scores[0] > 0  # the first example reaches everything it sees first
    # Every feature and pair is new exactly once, to the example that reached it first.
    total = FEATURE_WEIGHT * len(machine.features) + len(machine.pairs)
    assert 0 < sum(scores) <= total
    names = {name_of(f) for f in machine.features}
    assert any(name.startswith("swapon:") for name in names)
    assert any(name.startswith("alloc:") for name in names)  # the allocation state features
