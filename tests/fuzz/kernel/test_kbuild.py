"""kbuild: the .config check, and `make bzImage` run for real on tiny Makefiles (a success, a
compiler error named in one line, a build that leaves no image)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.kernel import kbuild


def test_missing_options(tmp_path: Path) -> None:
    assert kbuild.missing_options(tmp_path) is None  # no .config at all
    full = "".join(f"CONFIG_{o}=y\n" for o in kbuild.REQUIRED)
    (tmp_path / ".config").write_text(full)
    assert kbuild.missing_options(tmp_path) == []
    text = full.replace("CONFIG_HIBERNATION=y\n", "# CONFIG_HIBERNATION is not set\n")
    (tmp_path / ".config").write_text(text.replace("CONFIG_BLK_DEV_LOOP=y", "CONFIG_BLK_DEV_LOOP=m"))
    assert kbuild.missing_options(tmp_path) == ["CONFIG_HIBERNATION", "CONFIG_BLK_DEV_LOOP"]


def makefile(root: Path, recipe: str) -> None:
    root.mkdir(exist_ok=True)
    (root / "Makefile").write_text(f"bzImage:\n\t{recipe}\n")


def test_build_runs_make_bzimage(tmp_path: Path) -> None:
    makefile(tmp_path, "mkdir -p arch/x86/boot && printf image > arch/x86/boot/bzImage")
    log = tmp_path / "out" / "build.log"
    seconds = kbuild.build(tmp_path, 2, log)
    assert seconds >= 0 and (tmp_path / kbuild.IMAGE).read_text() == "image"
    assert "make -j2 bzImage" in log.read_text()


def test_a_compiler_error_is_one_line_naming_it_and_the_log(tmp_path: Path) -> None:
    makefile(tmp_path, "@echo 'mm/swapfile.c:2181:3: error: expected ; before }' >&2; exit 2")
    log = tmp_path / "build.log"
    with pytest.raises(kbuild.BuildError) as err:
        kbuild.build(tmp_path, 1, log)
    message = str(err.value)
    assert err.value.code == 3 and "\n" not in message
    assert "make bzImage failed" in message and "mm/swapfile.c:2181:3: error: expected" in message
    assert str(log) in message


def test_a_build_that_leaves_no_image_fails(tmp_path: Path) -> None:
    makefile(tmp_path, "true")
    with pytest.raises(kbuild.BuildError, match="left no arch/x86/boot/bzImage"):
        kbuild.build(tmp_path, 1, tmp_path / "build.log")
