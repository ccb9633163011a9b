"""Shared fixtures: every scenario and misuse test runs once per implementation."""

from __future__ import annotations

import importlib

import pytest

# (id, "module:Class").  Add an implementation here and every parametrized test runs on it.
IMPLEMENTATIONS = [
    ("reference", "reference.model:ReferenceSwap"),
    ("optimized", "optimized:OptimizedSwap"),
]


def load_impl(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _available():
    out = []
    for impl_id, spec in IMPLEMENTATIONS:
        try:
            out.append(pytest.param(load_impl(spec), id=impl_id))
        except (ImportError, AttributeError):
            # The optimized package is written after the reference; until it exists only the
            # reference runs.  Once `optimized` imports, a failure to import is a test error.
            if impl_id == "reference":
                raise
    return out


@pytest.fixture(params=_available())
def impl_cls(request):
    """The implementation class under test."""
    return request.param


@pytest.fixture
def make(impl_cls):
    """Build an implementation: `make(cluster_size=8)`."""

    def build(**kwargs):
        return impl_cls(**kwargs)

    return build
