"""Fixtures for the reference scenario tests: `new(...)` builds an implementation through the
shared `make` fixture and checks its invariants (semantics 3.2) when the test ends."""

from __future__ import annotations

import pytest


@pytest.fixture
def new(make):
    """`new(cluster_size=4)`: an implementation whose `check_invariants()` runs at teardown."""
    built = []

    def build(**kwargs):
        kwargs.setdefault("cluster_size", 4)
        sw = make(**kwargs)
        built.append(sw)
        return sw

    yield build
    for sw in built:
        sw.check_invariants()
