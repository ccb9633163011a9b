"""KernelTree: a patch applies inside the block, and the tree is byte-for-byte as found after it
however the block ends (normally, an exception, a patch that fails half-way, SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fuzz.kernel.tree import KernelTree, TreeError, parse_patch

REPO = Path(__file__).resolve().parents[3]

SWAPFILE = "".join(f"line {i}\n" for i in range(1, 40))
POWER = "alpha\nbeta\ngamma\ndelta\n"

ONE_FILE = """\
--- a/mm/swapfile.c
+++ b/mm/swapfile.c
@@ -9,7 +9,7 @@
 line 9
 line 10
 line 11
-line 12
+line 12 mutated
 line 13
 line 14
 line 15
"""
# the first file applies, the second does not: patch(1) leaves the first one changed
HALF = (
    ONE_FILE
    + """\
--- a/kernel/power/swap.c
+++ b/kernel/power/swap.c
@@ -1,3 +1,3 @@
 alpha
-no such line
+epsilon
 gamma
"""
)
CREATES = """\
--- /dev/null
+++ b/mm/new.c
@@ -0,0 +1,1 @@
+a new file
"""


def fake_tree(root: Path) -> KernelTree:
    (root / "mm").mkdir(parents=True)
    (root / "kernel" / "power").mkdir(parents=True)
    (root / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\nNAME = x\n")
    (root / "mm" / "swapfile.c").write_text(SWAPFILE)
    (root / "kernel" / "power" / "swap.c").write_text(POWER)
    return KernelTree(root)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_release_comes_from_the_makefile(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    assert tree.release == "7.3.4"
    (tmp_path / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 4\nSUBLEVEL = 0\nEXTRAVERSION = -rc2\n")
    assert KernelTree(tmp_path).release == "7.4.0-rc2"


def test_a_directory_that_is_no_kernel_tree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TreeError, match="is not a Linux source tree") as err:
        KernelTree(tmp_path)
    assert err.value.code == 2


def test_applied_inside_the_block_and_restored_after(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    before = snapshot(tmp_path)
    patch = parse_patch("m", ONE_FILE)
    assert patch.files == ("mm/swapfile.c",)
    with tree.applied(patch):
        assert "line 12 mutated\n" in (tmp_path / "mm" / "swapfile.c").read_text()
        assert snapshot(tmp_path).keys() == before.keys()  # no .orig or .rej beside it
    assert snapshot(tmp_path) == before


def test_an_exception_in_the_block_still_restores(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError, match="build broke"), tree.applied(parse_patch("m", ONE_FILE)):
        raise RuntimeError("build broke")
    assert snapshot(tmp_path) == before


def test_a_patch_failing_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    before = snapshot(tmp_path)
    patch = parse_patch("half", HALF)
    assert tree.check_applies(patch) is not None
    entered = False
    with pytest.raises(TreeError, match="half did not apply"), tree.applied(patch):
        entered = True
    assert not entered
    assert snapshot(tmp_path) == before


def test_a_created_file_is_removed_again(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    before = snapshot(tmp_path)
    with tree.applied(parse_patch("new", CREATES)):
        assert (tmp_path / "mm" / "new.c").read_text() == "a new file\n"
    assert snapshot(tmp_path) == before


def test_require_applicable_names_the_patch_that_does_not_apply(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    good, bad = parse_patch("good", ONE_FILE), parse_patch("bad", HALF)
    tree.require_applicable([good])
    with pytest.raises(TreeError, match=r"^bad does not apply cleanly to .*FAILED") as err:
        tree.require_applicable([good, bad])
    assert err.value.code == 2 and "\n" not in str(err.value)
    with tree.applied(good):  # an already applied patch does not apply again (--forward)
        assert tree.check_applies(good) is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just words\n", "not a unified diff"),
        ("--- a/x\n+++ b/x\n", "not a unified diff"),
        ("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "not a path inside the tree"),
        ("--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n", "not a path inside the tree"),  # nothing for -p1
    ],
)
def test_malformed_patches_are_refused(text: str, message: str) -> None:
    with pytest.raises(TreeError, match=message):
        parse_patch("p", text)


def test_sigterm_while_patched_restores_the_tree(tmp_path: Path) -> None:
    tree_dir = tmp_path / "tree"
    fake_tree(tree_dir)
    before = snapshot(tree_dir)
    (tmp_path / "p.patch").write_text(ONE_FILE)
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from fuzz.kernel.tree import KernelTree, read_patch
        tree = KernelTree(Path({str(tree_dir)!r}))
        with tree.applied(read_patch(Path({str(tmp_path / "p.patch")!r}))):
            print("patched", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "patched\n"
    assert "mutated" in (tree_dir / "mm" / "swapfile.c").read_text()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert snapshot(tree_dir) == before


def test_git_status_of_a_git_tree(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    assert tree.git_status() is None
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "stock"], check=True)
    assert tree.git_status() == ""
    with tree.applied(parse_patch("m", ONE_FILE)):
        assert tree.git_status() == " M mm/swapfile.c\n"
    assert tree.git_status() == ""
