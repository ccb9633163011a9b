"""The kernel mutant catalogue: at least eight real bugs, each a well-formed patch of mm/ (or the
hibernation code) that applies to the text it was written against and says what shows it.

The patches are checked against a real 7.3.4 tree where SWAPDIFF_LINUX_TREE names one (Debian's
linux-source-7.3: ../shared/tools/debian-kernel.sh source 7.3 DIR); without a tree each patch is
applied to its own pre-image (its context and removed lines), which checks its hunks' form."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fuzz.kernel.cli import build_parser
from fuzz.kernel.mutants import CATALOGUE, by_name
from fuzz.kernel.tree import KernelTree, read_patch

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def test_at_least_eight_mutants_with_unique_names_and_their_facts() -> None:
    assert len(CATALOGUE) >= 8
    assert len(by_name()) == len(CATALOGUE)
    assert "hib-double-dec" in by_name()
    for m in CATALOGUE:
        assert m.patch.is_file(), m.name
        assert m.source and m.bug and m.observable, m.name
        assert m.expect == "caught" or m.expect.startswith(("missed: ", "caught only when")), m.name


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_the_lane_options_are_swapdiff_kernel_options(mutant) -> None:
    args = build_parser().parse_args(["--steps", "5", *mutant.lane])
    assert args.steps == 5


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_each_patch_touches_swap_code_only(mutant) -> None:
    patch = read_patch(mutant.patch, mutant.name)
    assert patch.files
    for f in patch.files:
        assert f.startswith("mm/") or f == "kernel/power/swap.c", (mutant.name, f)


def pre_image(text: str) -> dict[str, list[str]]:
    """Per file, the lines each hunk expects, placed at the hunk's old line numbers."""
    files: dict[str, list[str]] = {}
    lines = text.splitlines()
    current: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("+++ b/"):
            current = files.setdefault(line[6:], [])
        m = HUNK.match(line)
        if m:
            start, count = int(m.group(1)), int(m.group(2) or 1)
            while len(current) < start - 1:
                current.append(f"/* filler {len(current)} */")
            old = []
            i += 1
            while len(old) < count:
                body = lines[i]
                if body.startswith((" ", "-")) or body == "":
                    old.append(body[1:])
                i += 1
            current.extend(old)
            continue
        i += 1
    return files


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_each_patch_applies_to_its_own_pre_image(mutant, tmp_path: Path) -> None:
    patch = read_patch(mutant.patch, mutant.name)
    (tmp_path / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\n")
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "swapfile.c").write_text("")
    for name, lines in pre_image(patch.text).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("".join(line + "\n" for line in lines))
    tree = KernelTree(tmp_path)
    assert tree.check_applies(patch) is None
    before = tree.digests(patch.files)
    with tree.applied(patch):
        assert tree.digests(patch.files) != before
    assert tree.digests(patch.files) == before


def test_every_patch_applies_to_a_linux_7_3_4_tree() -> None:
    where = os.environ.get("SWAPDIFF_LINUX_TREE")
    if not where:
        pytest.skip("SWAPDIFF_LINUX_TREE is not set (a Linux 7.3.4 source tree to apply the catalogue to)")
    tree = KernelTree(Path(where))
    assert tree.release == "7.3.4"
    tree.require_applicable(read_patch(m.patch, m.name) for m in CATALOGUE)
