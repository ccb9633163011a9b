"""Device ownership of the kernel lane: headers, swapon/off, stale cleanup, settings restore."""

from __future__ import annotations

import fcntl
import os
import struct

import pytest

from fuzz.kernel import device
from fuzz.kernel.device import (
    LABEL,
    LANE_DIR,
    PAGE,
    KernelHost,
    KernelUnavailable,
    has_label,
    proc_swaps,
    swap_header,
    swapoff,
    swapon,
    write_swap_file,
)

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def test_swap_header_layout() -> None:
    head = swap_header(4096, bad=[7, 9])
    assert len(head) == PAGE
    assert head[-10:] == b"SWAPSPACE2"
    version, last_page, nbad = struct.unpack_from("<III", head, 1024)
    assert (version, last_page, nbad) == (1, 4095, 2)
    assert head[1024 + 28 : 1024 + 44] == LABEL
    assert struct.unpack_from("<II", head, 1024 + 44 + 4 * 117) == (7, 9)
    assert head[:1024] == bytes(1024)


def test_swap_header_rejects_tiny() -> None:
    with pytest.raises(ValueError):
        swap_header(1)


def test_device_size_limit(tmp_path) -> None:
    with pytest.raises(ValueError, match="64 MiB"):
        write_swap_file(tmp_path / "x", (64 << 20) // PAGE + 1)


def test_not_root_is_unavailable(monkeypatch) -> None:
    monkeypatch.setattr(device.os, "geteuid", lambda: 1000)
    with pytest.raises(KernelUnavailable, match="needs root"):
        device.check_host()


def test_device_lifecycle_and_restore(kernel_host_ok, tmp_path, monkeypatch) -> None:
    # A stand-in for vm.page-cluster holding a host value of 3: writing the real file outside
    # the lane lock would race with a lane run in flight on another worker (which restores its
    # own saved value).  The real file's restore is asserted by the session fixture.
    page_cluster = tmp_path / "page-cluster"
    page_cluster.write_text("3\n")
    monkeypatch.setattr(device, "PAGE_CLUSTER", page_cluster)
    with KernelHost() as host:
        assert page_cluster.read_text().strip() == "0"
        path = host.add_device(1024, priority=7)
        row = next(r for r in proc_swaps() if r["filename"] == str(path))
        # Size is the usable pages (max minus the header page), in KiB.
        assert (row["size"], row["used"], row["priority"]) == (1023 * 4, 0, 7)
        assert has_label(path)
    assert str(path) not in {r["filename"] for r in proc_swaps()}
    assert not path.exists()
    assert page_cluster.read_text().strip() == "3"


def test_teardown_on_exception(kernel_host_ok) -> None:
    with pytest.raises(RuntimeError), KernelHost() as host:
        path = host.add_device(512)
        raise RuntimeError("boom")
    assert proc_swaps() == []
    assert not path.exists()


def test_whole_clusters_only(kernel_host_ok) -> None:
    with KernelHost() as host, pytest.raises(ValueError, match="clusters"):
        host.add_device(600)


def test_stale_device_removed_foreign_untouched(kernel_host_ok, tmp_path) -> None:
    LANE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale = LANE_DIR / "swap-1-1.img"
    foreign = LANE_DIR / "not-ours.img"
    write_swap_file(stale, 512)
    foreign.write_bytes(b"keep")
    try:
        swapon(stale, 3)
        with KernelHost() as host:
            assert host.stale == [str(stale)]
            assert proc_swaps() == []
        assert not stale.exists()
        assert foreign.read_bytes() == b"keep"
    finally:
        if str(stale) in {r["filename"] for r in proc_swaps()}:
            swapoff(stale)
        stale.unlink(missing_ok=True)
        foreign.unlink(missing_ok=True)


def test_refuses_other_swap_unless_allowed(kernel_host_ok) -> None:
    other = LANE_DIR.parent / "swapdiff-kernel-test-other.img"
    write_swap_file(other, 512)
    try:
        with open(other, "r+b") as f:  # not the lane's label: a device the lane must not own
            f.seek(1024 + 28)
            f.write(b"someone-else\0\0\0\0")
        swapon(other, 1)
        with pytest.raises(KernelUnavailable, match="--allow-existing"), KernelHost():
            pass
        with KernelHost(allow_existing=True) as host:
            host.add_device(512, priority=2)
        assert [r["filename"] for r in proc_swaps()] == [str(other)]
    finally:
        if str(other) in {r["filename"] for r in proc_swaps()}:
            swapoff(other)
        other.unlink(missing_ok=True)


def test_mthp_switches_set_for_the_run_and_restored_even_on_failure(kernel_host_ok) -> None:
    switches = device.mthp_switches()
    if 64 not in switches:
        pytest.skip("this kernel has no 64K anonymous mTHP switch")
    before = {size: path.read_text() for size, path in switches.items()}
    with pytest.raises(RuntimeError), KernelHost(mthp_kb=64):
        chosen = [size for size, path in switches.items() if "[madvise]" in path.read_text()]
        others_never = all("[never]" in p.read_text() for s, p in switches.items() if s != 64)
        assert chosen == [64] and others_never
        raise RuntimeError("a failing run")
    assert {size: path.read_text() for size, path in switches.items()} == before


def test_mthp_orders_and_unusable_sizes() -> None:
    switches = device.mthp_switches()
    if 64 in switches:
        assert device.mthp_order(64) == 4
    with pytest.raises(KernelUnavailable, match="no pte-mapped anonymous mTHP size 2048K"):
        device.mthp_order(2048)
    with pytest.raises(KernelUnavailable, match="no pte-mapped anonymous mTHP size 12K"):
        device.mthp_order(12)


def test_an_mthp_run_holds_the_hugepage_lock_against_guests(kernel_host_ok) -> None:
    if 64 not in device.mthp_switches():
        pytest.fail("this kernel has no 64K anonymous mTHP switch (the lane's --mthp tests need one)")

    def guest_could_start() -> bool:
        fd = os.open(device.HUGEPAGE_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    with KernelHost(mthp_kb=64):
        assert not guest_could_start()
    with KernelHost():  # order-0 runs do not count hugepage faults: guests may run beside them
        assert guest_could_start()
    assert guest_could_start()
