"""`swapdiff kernel mutants`: bad input is one line and exit 2 before the tree is touched;
--list prints the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.cli import main
from fuzz.kernel.mutants import CATALOGUE
from tests.fuzz.kernel.test_tree import HALF, ONE_FILE, fake_tree, snapshot


def test_list_prints_every_mutant(capsys) -> None:
    assert main(["kernel", "mutants", "--list"]) == 0
    out = capsys.readouterr().out
    for m in CATALOGUE:
        assert f"{m.name}\n" in out
    assert "source: f5e31a196edc" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--tree LINUX_SRC is required"),
        (["--tree", "/nonexistent/linux"], "no such directory"),
        (["--tree", "{tmp}"], "is not a Linux source tree"),
        (["--tree", "{tree}", "--only", "nope"], "no mutant nope (catalogue: hib-double-dec,"),
        (["--tree", "{tree}", "--patch", "{tmp}/missing.patch"], "cannot read patch"),
        (["--tree", "{tree}", "--patch", "{good}", "--only", "hib-double-dec"], "--only picks catalogue"),
        (["--tree", "{tree}", "--mthp", "64K"], "apply to --patch runs"),
        (["--tree", "{tree}", "--patch", "{bad}"], "bad does not apply cleanly"),
        (["--tree", "{tree}", "--steps", "0"], "positive integer"),
        (["--tree", "{tree}", "--steps", "5", "--time", "1m"], "not allowed with argument"),
        (["--tree", "{tree}", "--semantics", "7.0"], "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    tree = tmp_path / "linux"
    fake_tree(tree)
    (tmp_path / "good.patch").write_text(ONE_FILE)
    (tmp_path / "bad.patch").write_text(HALF)
    before = snapshot(tree)
    paths = {"tmp": tmp_path, "tree": tree, "good": tmp_path / "good.patch", "bad": tmp_path / "bad.patch"}
    argv = [a.format(**paths) for a in argv]
    assert main(["kernel", "mutants", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("swapdiff kernel mutants: error: ")
    assert snapshot(tree) == before


def test_the_catalogue_does_not_apply_to_another_tree(tmp_path: Path, capsys) -> None:
    fake_tree(tmp_path)
    assert main(["kernel", "mutants", "--tree", str(tmp_path), "--only", "hib-double-dec"]) == 2
    err = capsys.readouterr().err
    assert "hib-double-dec does not apply cleanly" in err and len(err.strip().splitlines()) == 1


def test_kernel_options_still_parse(capsys) -> None:
    assert main(["kernel", "--mthp", "48K", "--steps", "5"]) == 2  # `swapdiff kernel` is unchanged
    assert "is not an mTHP size" in capsys.readouterr().err


def test_compile_only_compiles_each_patch_and_reports(tmp_path: Path, capsys) -> None:
    tree = tmp_path / "linux"
    fake_tree(tree)
    with open(tree / "Makefile", "a") as f:  # a compiler that copies the source to the object
        f.write("%.o: %.c\n\tcp $< $@\n")
    (tmp_path / "good.patch").write_text(ONE_FILE)
    argv = ["kernel", "mutants", "--tree", str(tree), "--patch", str(tmp_path / "good.patch")]
    assert main([*argv, "--compile-only", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "good: compiles" in out and "1 of 1 patches compile" in out
    assert "line 12 mutated" in (tree / "mm" / "swapfile.o").read_text()
    assert "line 12 mutated" not in (tree / "mm" / "swapfile.c").read_text()
