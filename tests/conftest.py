"""Shared fixtures: every scenario and misuse test runs once per implementation."""

from __future__ import annotations

import importlib
import os

import pytest

from tests.owned import OWNED, OwnedTests

# (id, "module:Class").  Add an implementation here and every parametrized test runs on it.
IMPLEMENTATIONS = [
    ("reference", "reference.model:ReferenceSwap"),
    ("optimized", "optimized:OptimizedSwap"),
]


def load_impl(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _params():
    return [pytest.param(load_impl(spec), id=impl_id) for impl_id, spec in IMPLEMENTATIONS]


@pytest.fixture(params=_params())
def impl_cls(request):
    """The implementation class under test."""
    return request.param


@pytest.fixture
def make(impl_cls):
    """Build an implementation: `make(cluster_size=8)`."""

    def build(**kwargs):
        return impl_cls(**kwargs)

    return build


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(OwnedTests(OWNED), "swapdiff-owned-tests")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than CPUs.  The two host-owning groups (the kernel lane, the
    VM boots) spend most of their time waiting (on the kernel's swap I/O, on an idle or
    booting guest, on each other through the hugepage lock), so with one worker per CPU they
    left a core idle for most of a 13.5-minute run (15.5 CPU minutes in all on 2 cores)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The xdist groups run serially on one worker each and are the longest units of work, so
    they go first (xdist hands out work in collection order): the other worker takes the
    short tests meanwhile instead of idling at the end while one group runs out."""
    items.sort(key=lambda item: not any(item.iter_markers("xdist_group")))
