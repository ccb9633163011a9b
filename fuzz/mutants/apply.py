"""Apply a mutant: copy the `optimized` package to a temp dir and edit the copy.

The working tree is never touched and production code carries no bug flags: a mutant exists
only as text edits (`fuzz.mutants.catalogue.Edit`) of a throwaway copy.  Every snippet must
occur exactly once in the file it edits (checked when applied, after the earlier edits of the
same mutant), so a refactor of `optimized/` makes the mutant fail loudly instead of silently
turning into a no-op.

`mutated_copy(mutant)` yields the root to put first on `sys.path` so that `import optimized`
loads the mutant; the directory is removed on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fuzz.mutants.catalogue import Edit, Mutant

PACKAGE = "optimized"


class MutantError(ValueError):
    """A mutant cannot be applied to the current code (one-line message)."""


def default_package_dir() -> Path:
    """The working tree's `optimized/` (found by path: importing it here would load it)."""
    return Path(__file__).resolve().parents[2] / PACKAGE


def apply_edit(text: str, edit: Edit, where: str) -> str:
    """`text` with the edit's snippet replaced; the snippet must occur exactly once."""
    found = text.count(edit.snippet)
    if found != 1:
        first = edit.snippet.strip().splitlines()[0] if edit.snippet.strip() else "<empty>"
        raise MutantError(f"{where}: snippet {first!r}... occurs {found} times in {edit.file}, expected 1")
    return text.replace(edit.snippet, edit.replacement, 1)


def mutate_sources(mutant: Mutant, package_dir: Path) -> dict[str, str]:
    """The edited text of every file the mutant touches (relative path -> new text)."""
    texts: dict[str, str] = {}
    for number, edit in enumerate(mutant.edits, 1):
        path = package_dir / edit.file
        if edit.file not in texts:
            if not path.is_file():
                raise MutantError(f"mutant {mutant.name} edit {number}: no file {edit.file} in {package_dir}")
            texts[edit.file] = path.read_text()
        if edit.snippet == edit.replacement:
            raise MutantError(f"mutant {mutant.name} edit {number}: the replacement changes nothing")
        texts[edit.file] = apply_edit(texts[edit.file], edit, f"mutant {mutant.name} edit {number}")
    for name, text in texts.items():  # a snippet that still matches may now sit at another depth
        try:
            compile(text, name, "exec")
        except SyntaxError as err:
            raise MutantError(
                f"mutant {mutant.name}: the edited {name} does not parse: {err.msg} (line {err.lineno})"
            ) from None
    return texts


def check_mutant(mutant: Mutant, package_dir: Path | None = None) -> str | None:
    """None if every edit of the mutant applies to the current code, else the problem."""
    try:
        mutate_sources(mutant, package_dir or default_package_dir())
    except MutantError as err:
        return str(err)
    return None


def write_copy(mutant: Mutant, root: Path, package_dir: Path | None = None) -> Path:
    """Copy the package under `root` and apply the mutant there; returns the package copy."""
    source = package_dir or default_package_dir()
    texts = mutate_sources(mutant, source)  # fail before copying anything
    target = root / PACKAGE
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    for rel, text in texts.items():
        (target / rel).write_text(text)
    return target


@contextlib.contextmanager
def mutated_copy(mutant: Mutant, package_dir: Path | None = None) -> Iterator[Path]:
    """A temp dir holding `optimized/` with the mutant applied; removed on exit."""
    root = Path(tempfile.mkdtemp(prefix=f"swapdiff-mutant-{mutant.name}-"))
    try:
        write_copy(mutant, root, package_dir)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
