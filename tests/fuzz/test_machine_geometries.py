"""The differential machine on the named fixed geometries (fuzz.world.NAMED_GEOMETRIES), each
under the profile that drives it hardest: a lone discard-pages disk, a small device under
memory pressure, equal-priority SSDs, a crowded mixed set, PMD-sized folios."""

from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from fuzz.machine import make_machine
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


def _run(name: str, profile: str) -> None:
    machine = make_machine(ReferenceSwap, OptimizedSwap, geometry=NAMED_GEOMETRIES[name], profile=profile)
    run_state_machine_as_test(machine)
    assert machine.steps_run > 0


def test_geometry_hdd_discard():
    _run("hdd-discard", "usemem")


def test_geometry_pressure():
    _run("pressure", "usemem")


def test_geometry_twin_ssds():
    _run("twin-ssds", "kbuild")


def test_geometry_mixed():
    _run("mixed", "default")


def test_geometry_huge_folios():
    _run("huge", "mthp")
