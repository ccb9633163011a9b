"""The differential machine on the named fixed geometries (fuzz.world.NAMED_GEOMETRIES), each
under the profile that drives it hardest: a lone discard-pages disk, a small device under
memory pressure, equal-priority SSDs, a crowded mixed set, PMD-sized folios."""

from __future__ import annotations

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from fuzz.modes.machine import make_machine
from fuzz.world import NAMED_GEOMETRIES
from optimized import OptimizedSwap
from reference.model import ReferenceSwap

# (geometry name, profile); the coverage test replays the same pairs.
FIXED_RUNS = (
    ("hdd-discard", "usemem"),
    ("pressure", "usemem"),
    ("twin-ssds", "kbuild"),
    ("mixed", "default"),
    ("huge", "mthp"),
)


# Memory-pressure transitions need a device filled, freed and refilled within one example, so
# the pressure geometries spend the profile's step budget on fewer, longer examples.
LONG_EXAMPLE_STEPS = 300
PRESSURE_LABELS = ("order stealing", "reclaim in scan", "sync discard")


def _long_examples(parent: settings) -> settings:
    budget = parent.max_examples * parent.stateful_step_count
    return settings(
        parent, max_examples=max(8, budget // LONG_EXAMPLE_STEPS), stateful_step_count=LONG_EXAMPLE_STEPS
    )


def _run(name: str, profile: str, *, long_examples: bool = False):
    machine = make_machine(ReferenceSwap, OptimizedSwap, geometry=NAMED_GEOMETRIES[name], profile=profile)
    run_state_machine_as_test(machine, settings=_long_examples(settings.default) if long_examples else None)
    assert machine.steps_run > 0
    return machine


def test_geometry_hdd_discard():
    machine = _run("hdd-discard", "usemem", long_examples=True)
    assert [label for label in PRESSURE_LABELS if not machine.label_totals.get(label)] == []


def test_geometry_pressure():
    machine = _run("pressure", "usemem", long_examples=True)
    assert [label for label in PRESSURE_LABELS if not machine.label_totals.get(label)] == []


def test_geometry_twin_ssds():
    _run("twin-ssds", "kbuild")


def test_geometry_mixed():
    _run("mixed", "default")


def test_geometry_huge_folios():
    _run("huge", "mthp")
