"""The uswsusp interface (/dev/snapshot) as the kernel lane uses it: hibernation swap slots.

Opened read-only, /dev/snapshot is the "image writer" side of userspace hibernation (uswsusp):
SNAPSHOT_SET_SWAP_AREA names the swap device by its dev_t (new_encode_dev) and the start of
its swap area (0 on a whole block device: the first swap extent must start there), and each
SNAPSHOT_ALLOC_SWAP_PAGE takes one slot (swap_alloc_hibernation_slot) and returns its byte
offset on the device (slot offset << PAGE_SHIFT: the area's one extent starts at block 0).
SNAPSHOT_FREE_SWAP_PAGES frees every slot the device recorded (free_all_swap_pages), and so
does closing it.  Kernel facts (include/uapi/linux/suspend_ioctls.h, kernel/power/user.c and
swap.c of 6.18 and 7.3; see docs/hibernation.md): one opener at a time (EBUSY), O_RDWR is
ENOSYS, SET_SWAP_AREA is EPERM while slots are held and ENODEV for a device that is not an
active swap area, ALLOC/FREE without an area are ENODEV, ALLOC is ENOSPC when no slot is free.

The ioctl numbers are computed here from the _IO/_IOR/_IOW encoding (x86 and most
architectures: 2 direction bits, 14 size bits, 8 type bits, 8 number bits).
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

SNAPSHOT = Path("/dev/snapshot")
PAGE_SHIFT = 12

_IOC_NRSHIFT, _IOC_TYPESHIFT, _IOC_SIZESHIFT, _IOC_DIRSHIFT = 0, 8, 16, 30
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioc(direction: int, type: int, nr: int, size: int) -> int:
    fields = (direction, _IOC_DIRSHIFT), (type, _IOC_TYPESHIFT), (nr, _IOC_NRSHIFT), (size, _IOC_SIZESHIFT)
    return sum(value << shift for value, shift in fields)


SNAPSHOT_IOC_MAGIC = ord("3")
# struct resume_swap_area { __kernel_loff_t offset; __u32 dev; } __attribute__((packed))
RESUME_SWAP_AREA = struct.Struct("<qI")
LOFF_T = struct.Struct("<q")
SNAPSHOT_FREE_SWAP_PAGES = _ioc(_IOC_NONE, SNAPSHOT_IOC_MAGIC, 9, 0)
SNAPSHOT_SET_SWAP_AREA = _ioc(_IOC_WRITE, SNAPSHOT_IOC_MAGIC, 13, RESUME_SWAP_AREA.size)
SNAPSHOT_ALLOC_SWAP_PAGE = _ioc(_IOC_READ, SNAPSHOT_IOC_MAGIC, 20, LOFF_T.size)


def new_encode_dev(dev: int) -> int:
    """The 32-bit dev_t userspace passes (the kernel decodes it with new_decode_dev)."""
    major, minor = os.major(dev), os.minor(dev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def swap_area(device: Path) -> bytes:
    """The SET_SWAP_AREA argument for a whole block device used as a swap area."""
    return RESUME_SWAP_AREA.pack(0, new_encode_dev(os.stat(device).st_rdev))


def _errno(err: OSError) -> int:
    return -(err.errno or 0)


class Snapshot:
    """The image writer's file descriptor; every call returns 0 (or an offset) or -errno."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def open(self) -> int:
        try:
            self.fd = os.open(SNAPSHOT, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            return _errno(err)
        return 0

    def set_area(self, device: Path) -> int:
        try:
            fcntl.ioctl(self._fd(), SNAPSHOT_SET_SWAP_AREA, swap_area(device))
        except OSError as err:
            return _errno(err)
        return 0

    def alloc(self) -> int:
        """One slot: its offset in pages on the device, or -errno."""
        try:
            raw = fcntl.ioctl(self._fd(), SNAPSHOT_ALLOC_SWAP_PAGE, bytes(LOFF_T.size))
        except OSError as err:
            return _errno(err)
        return LOFF_T.unpack(raw)[0] >> PAGE_SHIFT

    def free_all(self) -> int:
        try:
            fcntl.ioctl(self._fd(), SNAPSHOT_FREE_SWAP_PAGES)
        except OSError as err:
            return _errno(err)
        return 0

    def close(self) -> None:
        """Closing frees every recorded slot (snapshot_release: free_all_swap_pages)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _fd(self) -> int:
        if self.fd is None:
            raise OSError(9, "/dev/snapshot is not open")
        return self.fd
