"""`run_mutants` end to end in real VMs, with two prebuilt 7.3.4 images standing in for make
(a kernel build takes far longer than a test may): the staged 7.3.4-minimal for the stock
sources, and ../shared/kernel-mutants/hib-double-dec for the sources with the catalogue's
hib-double-dec patch applied (the same one-hunk change).  The stock baseline agrees, the
mutant is caught at its first hibernation slot through SwapFree, and the tree is as found."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fuzz.kernel import kbuild
from fuzz.kernel.mutants import by_name
from fuzz.kernel.mutation import Candidate, Machinery, Options, run_mutants
from fuzz.kernel.tree import KernelTree, read_patch
from tests.fuzz.kernel.test_mutants import pre_image
from tests.fuzz.kernel.test_tree import snapshot
from tests.fuzz.kernel.vmtools import KERNELS, need_vm

pytestmark = [pytest.mark.vm, pytest.mark.xdist_group("vm")]

STOCK = KERNELS / "7.3.4-minimal"
MUTANT = KERNELS.parent / "kernel-mutants" / "hib-double-dec"


def _image(where: Path) -> Path:
    images = sorted(where.glob("lib/modules/*/vmlinuz"))
    if not images:
        pytest.skip(f"no prebuilt kernel at {where}")
    return images[0]


def test_the_seed_bug_is_caught_through_the_runner(tmp_path: Path) -> None:
    need_vm()
    stock_image, mutant_image = _image(STOCK), _image(MUTANT)
    mutant = by_name()["hib-double-dec"]
    patch = read_patch(mutant.patch, mutant.name)
    root = tmp_path / "linux"
    (root / "mm").mkdir(parents=True)
    (root / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n")
    for name, lines in pre_image(patch.text).items():
        (root / name).write_text("".join(line + "\n" for line in lines))
    shutil.copyfile(stock_image.parent / "config", root / ".config")
    stock_source = (root / "mm" / "swapfile.c").read_bytes()
    before = snapshot(root)
    built = []

    def build(tree_root: Path, jobs: int, log: Path) -> float:
        stock = (tree_root / "mm" / "swapfile.c").read_bytes() == stock_source
        built.append("stock" if stock else "mutant")
        (tree_root / kbuild.IMAGE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stock_image if stock else mutant_image, tree_root / kbuild.IMAGE)
        return 0.0

    def no_configure(tree_root: Path, log: Path) -> float:
        raise AssertionError("the tree has a .config")

    report = run_mutants(
        KernelTree(root),
        [Candidate(mutant.name, patch, mutant.lane, mutant.guest_setup, mutant.expect)],
        Options(out=tmp_path / "out", seed=19, steps=20, accel="tcg"),
        Machinery(configure=no_configure, build=build),
    )
    base, result = report.baseline[0], report.results[0]
    assert (base.outcome, base.steps) == ("missed", 20), base  # the stock kernel agrees
    assert result.outcome == "caught", result
    assert result.step == 3 and (result.observable or "").startswith("SwapFree"), result
    assert report.exit == 0 and report.tree_restored
    assert built == ["stock", "mutant", "stock"]
    image = root / kbuild.IMAGE
    assert image.read_bytes() == stock_image.read_bytes()  # the stock image again at the end
    image.unlink()
    assert {f: d for f, d in snapshot(root).items() if not f.startswith("arch/")} == before
