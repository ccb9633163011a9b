"""Mutant application: edits apply exactly once, to a temp copy, never to the working tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.mutants.apply import PACKAGE, MutantError, check_mutant, default_package_dir, mutated_copy
from fuzz.mutants.catalogue import CATALOGUE, Edit, Mutant, select

FAKE_INIT = '''"""A stand-in optimized package."""

def add(a, b):
    return a + b

def twice(a):
    return add(a, a)
'''


@pytest.fixture
def fake_pkg(tmp_path: Path) -> Path:
    pkg = tmp_path / "src" / PACKAGE
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_INIT)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "junk.pyc").write_bytes(b"x")
    return pkg


def _mutant(*edits: Edit) -> Mutant:
    return Mutant("fake", "derived: test", "a test mutant", tuple(edits))


def test_copy_is_mutated_and_tree_untouched(fake_pkg: Path) -> None:
    mutant = _mutant(Edit("__init__.py", "return a + b", "return a - b"))
    with mutated_copy(mutant, fake_pkg) as root:
        copy = root / PACKAGE / "__init__.py"
        assert "return a - b" in copy.read_text()
        assert not (root / PACKAGE / "__pycache__").exists()
        kept = root
    assert not kept.exists()
    assert fake_pkg.joinpath("__init__.py").read_text() == FAKE_INIT


def test_edits_apply_in_order_on_the_edited_text(fake_pkg: Path) -> None:
    mutant = _mutant(
        Edit("__init__.py", "return a + b", "return a * b"),
        Edit("__init__.py", "return a * b", "return a * b + 1"),
    )
    with mutated_copy(mutant, fake_pkg) as root:
        assert "return a * b + 1" in (root / PACKAGE / "__init__.py").read_text()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (Edit("__init__.py", "return", "yield"), "occurs 2 times"),
        (Edit("__init__.py", "return a / b", "x"), "occurs 0 times"),
        (Edit("missing.py", "a", "b"), "no file missing.py"),
        (Edit("__init__.py", "return a + b", "return a + b"), "changes nothing"),
        (Edit("__init__.py", "return a + b", "return a + b\n            pass"), "does not parse"),
    ],
)
def test_bad_edits_are_reported(fake_pkg: Path, edit: Edit, problem: str) -> None:
    mutant = _mutant(edit)
    message = check_mutant(mutant, fake_pkg)
    assert message is not None and problem in message and "fake" in message
    with pytest.raises(MutantError, match=problem), mutated_copy(mutant, fake_pkg):
        pass


def test_catalogue_is_well_formed() -> None:
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names))
    assert len(CATALOGUE) >= 20
    for m in CATALOGUE:
        assert m.edits and m.description and m.source, m.name
        assert m.source.startswith(("derived: ", "#")), m.name
    assert select(["hib-double-nr-decrement"])[0].name == "hib-double-nr-decrement"
    with pytest.raises(KeyError):
        select(["no-such-mutant"])


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_mutant_applies_to_current_optimized(mutant: Mutant) -> None:
    assert check_mutant(mutant, default_package_dir()) is None
