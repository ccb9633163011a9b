"""The mutant runner end to end on a stand-in `optimized` package (a copy of the reference
model), so these tests need no compilation and do not depend on the real optimized code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fuzz.mutants.catalogue import Edit, Mutant
from fuzz.mutants.runner import RunConfig, all_caught, run_mutant, summarize

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake_optimized(tmp_path: Path) -> Path:
    pkg = tmp_path / "optimized"
    pkg.mkdir()
    shutil.copy(REPO / "reference" / "model.py", pkg / "model.py")
    # The harness reads the packed layout's limits (fuzz.boundaries) from these two modules;
    # importing them compiles nothing.
    for layout in ("kernels.py", "state.py"):
        shutil.copy(REPO / "optimized" / layout, pkg / layout)
    (pkg / "__init__.py").write_text(
        '"""Stand-in."""\nfrom optimized.model import ReferenceSwap as OptimizedSwap\n'
    )
    return pkg


HIB_BUG = Mutant(
    "fake-hib",
    "derived: test",
    "hibernation allocation lowers nr_swap_pages twice",
    (
        Edit(
            "model.py",
            "        return Entry(type, found) if found else None\n",
            "        if found:\n"
            "            self._nr_swap_pages -= 1\n"
            "        return Entry(type, found) if found else None\n",
        ),
    ),
    profile="hibernate",
)
NO_OP = Mutant(
    "fake-no-op",
    "derived: test",
    "a comment: nothing observable changes",
    (
        Edit(
            "model.py",
            "    def nr_swap_pages(self) -> int:\n",
            "    def nr_swap_pages(self) -> int:  # same\n",
        ),
    ),
    equivalent="only a comment changes",
)


def test_caught_mutant_is_measured_and_minimized(fake_optimized: Path, tmp_path: Path) -> None:
    config = RunConfig(budget=60, steps=2000, mode="fast", minimize_seconds=30, out=str(tmp_path / "out"))
    result = run_mutant(HIB_BUG, config, package_dir=fake_optimized)
    assert result.error is None and result.status == "caught"
    assert result.call.startswith("swap_alloc_hibernation_slot") and result.kind == "state"
    assert 0 <= result.steps <= result.searched_steps and result.calls >= 1
    assert 1 <= result.min_len <= result.trace_len and not result.min_capped
    assert Path(result.trace).is_file() and Path(result.min_trace).is_file()
    # the working tree's copy was never touched
    assert "self._nr_swap_pages -= 1\n        return Entry" not in (fake_optimized / "model.py").read_text()


def test_equivalent_mutant_survives_and_is_not_scored(fake_optimized: Path) -> None:
    config = RunConfig(budget=60, steps=300, mode="fast", minimize_seconds=0)
    result = run_mutant(NO_OP, config, package_dir=fake_optimized)
    assert result.error is None and result.status == "equivalent"
    assert result.searched_steps >= 300 and result.steps is None
    assert all_caught([result])
    summary = summarize([result])
    assert summary["scored"] == 0 and summary["equivalent"] == ["fake-no-op"]


def test_mutant_that_does_not_apply_is_an_error(fake_optimized: Path) -> None:
    broken = Mutant("fake-broken", "derived: test", "stale snippet", (Edit("model.py", "no such text", "x"),))
    result = run_mutant(broken, RunConfig(budget=5, steps=10, mode="fast"), package_dir=fake_optimized)
    assert result.status == "error" and "occurs 0 times" in result.error
    assert not all_caught([result])
