"""Loop block devices of the lane: bound to a lane file, detached after swapoff, and found
(and removed) by the stale-device cleanup after a crash."""

from __future__ import annotations

import os

import pytest

from fuzz.kernel import loop
from fuzz.kernel.device import LANE_DIR, KernelHost, proc_swaps, swapon, write_swap_file

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def test_loop_device_detaches_itself_after_swapoff(kernel_host_ok) -> None:
    with KernelHost() as host:
        dev = host.add_device(512, blkdev=True, bad=[9])
        backing = host.devices[-1].backing
        assert loop.backing_file(dev) == str(backing)
        assert loop.lane_loops(LANE_DIR) == [(dev, backing)]
        host.remove_device(dev)
        assert loop.backing_file(dev) is None and not backing.exists()
    assert proc_swaps() == []


def test_stale_loop_device_of_a_crashed_run_is_removed(kernel_host_ok) -> None:
    LANE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    backing = LANE_DIR / "swap-1-9.img"
    write_swap_file(backing, 512)
    dev, fd = loop.attach(backing)
    try:
        swapon(dev, 2)
    finally:
        os.close(fd)
    with KernelHost() as host:  # as a run after the crash would
        assert str(dev) in host.stale
        assert proc_swaps() == [] and loop.backing_file(dev) is None
    assert not backing.exists()
