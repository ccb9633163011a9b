"""The differential machine, reference vs optimized, once per workload profile.

One test function per profile so `pytest -n auto` spreads them over the cores; each draws
its geometry per test case.  Settings come from the Hypothesis profile tests/fuzz/conftest.py
loads (`ci` by default: derandomized and bounded).
"""

from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from fuzz.modes.machine import make_machine
from optimized import OptimizedSwap
from reference.model import ReferenceSwap


def _run(profile: str) -> None:
    machine = make_machine(ReferenceSwap, OptimizedSwap, profile=profile)
    run_state_machine_as_test(machine)
    # A run that never stepped would pass vacuously.
    assert machine.steps_run > 0
    assert sum(machine.totals.values()) > 0


def test_profile_default():
    _run("default")


def test_profile_usemem():
    _run("usemem")


def test_profile_kbuild():
    _run("kbuild")


def test_profile_fork():
    _run("fork")


def test_profile_mthp():
    _run("mthp")


def test_profile_swapoff():
    _run("swapoff")


def test_profile_hibernate():
    _run("hibernate")
