"""Hibernation slots on real kernels (issue 24 item 3, issue 27 item 1): the seed bug of
swapdiff, `swap_alloc_hibernation_slot` lowering nr_swap_pages a second time, rebuilt into
Linux 7.3.4 (../shared/kernel-mutants/hib-double-dec), is caught by `swapdiff kernel --vm`:
exit 1 within a small step budget, and the shrunk trace's first divergent observable is
SwapFree after a hib_alloc, one page per slot below the model; the stock build of the same
tree (7.3.4-minimal) runs the same seed clean, with hibernation slots taken and freed.

The seed and budget: with --hibernation-share 0.3 the first block device is swapped on and
slots are taken within the first few steps (seed 1: a hib_alloc of 13 slots at step 2), so 40
steps leave the stock run room to free and retake slots beside pageouts and faults."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fuzz.kernel.trace import read_kernel_trace
from tests.fuzz.kernel.vmtools import KERNELS, need_vm, swapdiff_kernel

pytestmark = [pytest.mark.vm, pytest.mark.xdist_group("vm")]

MUTANT = KERNELS.parent / "kernel-mutants" / "hib-double-dec"
STOCK = "7.3.4-minimal"
LANE = ("--accel", "tcg", "--semantics", "6.18", "--seed", "1", "--steps", "40", "--hibernation-share", "0.3")
# the offset: what earlier runs on the same boot (the shrinker's candidates) left behind
SWAPFREE = re.compile(
    r"^SwapFree: kernel (\d+) KiB(?: \((-?\d+) KiB off before the run\))?, model (\d+) pages$"
)


def _run(kernel: str, out: Path, *extra: str) -> tuple[int, dict]:
    run = swapdiff_kernel("--vm", kernel, "--kernels", str(KERNELS), *LANE, *extra, "--out", str(out))
    # no summary: the guest failed (exit 3, the cause on stderr), not the lane
    assert (out / "summary.json").is_file(), f"exit {run.returncode}: {run.stderr.strip()}"
    summary = json.loads((out / "summary.json").read_text())
    return run.returncode, summary


def _mutant_image() -> str:
    need_vm()
    images = sorted(MUTANT.glob("lib/modules/*/vmlinuz"))
    if not images:
        pytest.skip(f"no hib-double-dec kernel at {MUTANT}")
    return str(images[0])


def test_the_seed_bug_is_caught_with_a_shrunk_swapfree_trace(tmp_path: Path) -> None:
    code, summary = _run(_mutant_image(), tmp_path, "--shrink")
    assert code == 1, summary
    header, actions = read_kernel_trace(summary["trace"])
    # the shrunk trace: a block device to take slots on (unless it is the first device), then
    # the slots; its replay's first divergence is at the hib_alloc, and SwapFree is all it shows
    assert actions[-1]["op"] == "hib_alloc" and len(actions) <= 2
    step, detail = header["divergence"].split("}: ", 1)  # "step N {action}: what differed"
    assert step.startswith(f"step {len(actions) - 1} ")
    found = SWAPFREE.match(detail)
    assert found is not None, detail
    kernel_kib, offset, model_pages = int(found[1]), int(found[2] or 0), int(found[3])
    assert kernel_kib - offset == (model_pages - actions[-1]["n"]) * 4  # one page lower per slot
    assert summary["detail"].startswith("SwapFree: ")  # the unshrunk run's first divergence too
    assert summary["step"] < 10 and summary["hibernation"]["taken"] > 0


def test_the_stock_build_runs_the_same_seed_clean_with_slots_taken_and_freed(tmp_path: Path) -> None:
    need_vm()
    code, summary = _run(STOCK, tmp_path)
    assert code == 0, summary
    assert summary["divergence"] is None and summary["steps"] == 40
    hib = summary["hibernation"]
    assert hib["taken"] > 0 and hib["freed"] > 0 and hib["refused"] == 0
