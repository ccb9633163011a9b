"""The conjunction mutants (fuzz.mutants.conjunction) apply, stay out of the catalogue, and are
real bugs: the issue's two conjunctions, built call by call, diverge on their mutant and agree
on the real code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.mutants.apply import check_mutant, mutated_copy
from fuzz.mutants.catalogue import CATALOGUE
from fuzz.mutants.conjunction import CONJUNCTION, SETS
from fuzz.replay import make_trace, replay_trace
from fuzz.trace import write_trace
from optimized import OptimizedSwap
from reference import ReferenceSwap
from reference.api import Call, Entry
from tests.clikit import cli_env

GEOMETRY = {"cluster_size": 4, "max_swapfiles": 2, "devices": [{"size": 16}]}


def test_ten_named_mutants_of_their_own_that_apply():
    assert len(CONJUNCTION) == 10 and SETS["conjunction"] is CONJUNCTION
    names = [m.name for m in CONJUNCTION]
    assert len(set(names)) == 10 and not set(names) & {m.name for m in CATALOGUE}
    for mutant in CONJUNCTION:
        assert check_mutant(mutant) is None, mutant.name


def _two_nonfull_clusters_then_large_alloc() -> list[Call]:
    """Clusters 1 and 2 of order 1 each with two free slots, only cluster 2's aligned; then an
    order-1 allocation (tests/fuzz/test_features.py builds the same state)."""
    calls = [Call("swapon", {"size": 16})]
    for folio in range(1, 7):
        calls += [Call("folio_new", {"folio": folio, "order": 1}), Call("folio_alloc_swap", {"folio": folio})]
    for folio in range(1, 5):
        calls += [
            Call("folio_dup_swap", {"folio": folio, "page": None}),
            Call("swap_cache_del_folio", {"folio": folio, "shadow": 0}),
        ]
    calls += [Call("swap_put_entries_direct", {"entry": Entry(0, off), "nr": 1}) for off in (5, 6, 8, 9)]
    return [*calls, Call("folio_new", {"folio": 100, "order": 1}), Call("folio_alloc_swap", {"folio": 100})]


def _later_page_at_14_then_whole_dup() -> list[Call]:
    """An order-1 folio whose first page is at 3 and second at 14, in a cluster with no
    overflowed slot; then a whole-folio dup."""
    calls = [Call("swapon", {"size": 16}), Call("folio_new", {"folio": 1, "order": 1})]
    calls.append(Call("folio_alloc_swap", {"folio": 1}))
    calls += [Call("folio_dup_swap", {"folio": 1, "page": 0})] * 3
    calls += [Call("folio_dup_swap", {"folio": 1, "page": 1})] * 14
    return [*calls, Call("folio_dup_swap", {"folio": 1, "page": None})]


def _replay(trace: Path, pythonpath: list[str]) -> subprocess.CompletedProcess:
    env = cli_env(NUMBA_DISABLE_JIT="1")
    env["PYTHONPATH"] = os.pathsep.join([*pythonpath, env["PYTHONPATH"]])
    return subprocess.run(
        [sys.executable, "-m", "fuzz.cli", "replay", str(trace)],
        env=env,
        cwd=trace.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "calls"),
    [
        ("nonfull-head-only-large", _two_nonfull_clusters_then_large_alloc),
        ("dup-overflow-checks-first-page", _later_page_at_14_then_whole_dup),
    ],
)
def test_the_issues_conjunctions_kill_their_mutants(tmp_path, name, calls):
    trace = make_trace(
        calls(), ReferenceSwap, OptimizedSwap, geometry=GEOMETRY, seed=None, profile=None, mode=None
    )
    path = tmp_path / f"{name}.jsonl"
    write_trace(path, trace)
    (mutant,) = [m for m in CONJUNCTION if m.name == name]
    with mutated_copy(mutant) as root:
        killed = _replay(path, [str(root)])
    assert killed.returncode == 1, killed.stdout + killed.stderr
    assert "diverge" in (killed.stdout + killed.stderr).lower()
    # The real code agrees on every call (in process: no mutated copy needed).
    assert replay_trace(trace, ReferenceSwap, OptimizedSwap).divergence is None
