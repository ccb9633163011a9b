"""The uswsusp interface's constants against the uapi facts (no /dev/snapshot needed)."""

from __future__ import annotations

import os

import pytest

from fuzz.kernel import snapshot
from fuzz.kernel.snapshot import Snapshot, new_encode_dev

# include/uapi/linux/suspend_ioctls.h: magic '3'; FREE_SWAP_PAGES = _IO(9);
# SET_SWAP_AREA = _IOW(13, struct resume_swap_area), 12 bytes packed (loff_t offset, u32 dev);
# ALLOC_SWAP_PAGE = _IOR(20, loff_t).  x86 _IOC: dir << 30 | size << 16 | type << 8 | nr, with
# _IOC_WRITE = 1 and _IOC_READ = 2.
UAPI = {
    "SNAPSHOT_FREE_SWAP_PAGES": 0x00003309,
    "SNAPSHOT_SET_SWAP_AREA": 0x400C330D,
    "SNAPSHOT_ALLOC_SWAP_PAGE": 0x80083314,
}


@pytest.mark.parametrize("name", sorted(UAPI))
def test_ioctl_numbers_match_the_uapi_header(name: str) -> None:
    assert getattr(snapshot, name) == UAPI[name]


def test_resume_swap_area_is_packed_offset_then_dev() -> None:
    assert snapshot.RESUME_SWAP_AREA.size == 12
    raw = snapshot.RESUME_SWAP_AREA.pack(0, new_encode_dev(os.makedev(7, 3)))
    assert raw == bytes(8) + (0x0703).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("major", "minor", "encoded"),
    [(7, 0, 0x700), (7, 255, 0x7FF), (7, 256, 0x100700), (259, 4097, 0x1010301)],
)
def test_new_encode_dev_is_what_new_decode_dev_reads(major: int, minor: int, encoded: int) -> None:
    assert new_encode_dev(os.makedev(major, minor)) == encoded
    # new_decode_dev: major = (dev & 0xfff00) >> 8, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
    assert ((encoded & 0xFFF00) >> 8, (encoded & 0xFF) | ((encoded >> 12) & 0xFFF00)) == (major, minor)


def test_calls_on_a_closed_descriptor_are_ebadf_not_exceptions() -> None:
    snap = Snapshot()
    assert (snap.alloc(), snap.free_all()) == (-9, -9)
    snap.close()  # closing twice is harmless


@pytest.mark.skipif(snapshot.SNAPSHOT.exists(), reason="this kernel has /dev/snapshot")
def test_opening_without_dev_snapshot_is_enoent() -> None:
    assert Snapshot().open() == -2
