"""Loop block devices for the kernel lane: a lane swap file seen as a block device.

A swap area on a block device is what takes a bad-page list (a swap file may not list any) and
what the kernel treats as SWP_BLKDEV.  `attach` binds a backing file to a free loop device by
ioctl (LOOP_CTL_GET_FREE, LOOP_SET_FD, LOOP_SET_STATUS64 with LO_FLAGS_AUTOCLEAR, so the loop
device detaches itself once swapoff drops the last reference); `lane_loops` finds loop devices
whose backing file is in a given directory, for the stale-device cleanup.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import time
from pathlib import Path

LOOP_CONTROL = Path("/dev/loop-control")
SYS_BLOCK = Path("/sys/block")
LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_AUTOCLEAR = 4
LOOP_INFO64_SIZE = 232
LO_FLAGS_OFFSET = 52  # lo_flags in struct loop_info64 (after five u64 and three u32 fields)
LO_FILE_NAME_OFFSET = 56
LO_NAME_SIZE = 64


def available() -> bool:
    return LOOP_CONTROL.exists()


def _status(backing: Path) -> bytes:
    info = bytearray(LOOP_INFO64_SIZE)
    struct.pack_into("<I", info, LO_FLAGS_OFFSET, LO_FLAGS_AUTOCLEAR)
    name = os.fsencode(str(backing))[: LO_NAME_SIZE - 1]
    info[LO_FILE_NAME_OFFSET : LO_FILE_NAME_OFFSET + len(name)] = name
    return bytes(info)


def attach(backing: Path, tries: int = 8) -> tuple[Path, int]:
    """Bind `backing` to a free loop device; returns (/dev/loopN, an open fd of it).  The device
    detaches itself at the last close, so the caller closes the fd only once swapon holds it."""
    for _ in range(tries):
        ctl = os.open(LOOP_CONTROL, os.O_RDWR)
        try:
            number = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
        finally:
            os.close(ctl)
        dev = Path(f"/dev/loop{number}")
        fd = os.open(dev, os.O_RDWR)
        try:
            back = os.open(backing, os.O_RDWR)
            try:
                fcntl.ioctl(fd, LOOP_SET_FD, back)
            except OSError as err:
                if err.errno != errno.EBUSY:
                    raise
                os.close(fd)  # another process took it between the two calls: next one
                continue
            finally:
                os.close(back)
            try:
                fcntl.ioctl(fd, LOOP_SET_STATUS64, _status(backing))
            except OSError:
                fcntl.ioctl(fd, LOOP_CLR_FD, 0)
                raise
        except BaseException:
            os.close(fd)
            raise
        else:
            return dev, fd
    raise OSError(errno.EBUSY, f"no free loop device for {backing} after {tries} tries")


def backing_file(dev: Path) -> str | None:
    try:
        return (SYS_BLOCK / dev.name / "loop" / "backing_file").read_text().strip()
    except OSError:
        return None


def detach(dev: Path) -> None:
    """Unbind `dev` if it is still bound (autoclear may be a moment behind the last close)."""
    for _ in range(50):
        if backing_file(dev) is None:
            return
        with contextlib.suppress(OSError):
            fd = os.open(dev, os.O_RDWR)
            try:
                fcntl.ioctl(fd, LOOP_CLR_FD, 0)
            finally:
                os.close(fd)
        time.sleep(0.01)


def lane_loops(directory: Path) -> list[tuple[Path, Path]]:
    """(loop device, backing file) for every loop device bound to a file in `directory`."""
    found = []
    for entry in sorted(SYS_BLOCK.glob("loop*")):
        back = backing_file(Path("/dev") / entry.name)
        if back is not None and Path(back).parent == directory:
            found.append((Path("/dev") / entry.name, Path(back)))
    return found
