"""Swap devices the kernel lane owns: v1 swap headers, swapon/swapoff by syscall, host lock.

Everything created lives in LANE_DIR and carries LABEL in the header's volume label; at start
`cleanup_stale` removes only such devices left by an earlier crash.  `KernelHost` is a context
manager holding the host-wide flock for the whole run and restoring every setting it changed
(vm.page-cluster, THP enabled and every per-size mTHP switch, paused DAMON pageout schemes: see
`reclaimers`) and every device it created, on success, failure, exception, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import platform
import signal
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from fuzz.kernel import loop, reclaimers

PAGE = 4096
CLUSTER = 512
LANE_DIR = Path("/var/tmp/swapdiff-kernel")
LOCK_PATH = Path("/run/lock/swapdiff-kernel.lock")
# Held exclusively by a lane run with --mthp, shared by swapdiff's own QEMU guests: QEMU
# madvises its guest RAM and TCG code buffer MADV_HUGEPAGE, so while the lane switches one
# anonymous mTHP size to "madvise", a guest's faults land in the per-size counters it compares.
HUGEPAGE_LOCK_PATH = Path("/run/lock/swapdiff-hugepage.lock")
LABEL = b"swapdiff-kernel\0"
SWAP_FLAG_PREFER = 0x8000
SWAP_FLAG_DISCARD = 0x10000
SWAP_FLAG_DISCARD_ONCE = 0x20000
SWAP_FLAG_DISCARD_PAGES = 0x40000
MAX_DEVICE_BYTES = 64 << 20
PAGE_CLUSTER = Path("/proc/sys/vm/page-cluster")
THP_DIR = Path("/sys/kernel/mm/transparent_hugepage")
THP_ENABLED = THP_DIR / "enabled"
PMD_KB = 2048  # PMD-sized THP (order 9) is mapped by a PMD, not by ptes: not an mTHP size

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.swapon.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.swapoff.argtypes = [ctypes.c_char_p]


class KernelUnavailable(Exception):
    """The lane cannot run on this host; the message is one line saying why (exit 2)."""


def mthp_switches() -> dict[int, Path]:
    """size in KiB -> the per-size anonymous THP switch (hugepages-<size>kB/enabled) of every
    size this kernel offers (a size without one, e.g. 8kB on x86, has no anonymous mTHP)."""
    found = {}
    for d in THP_DIR.glob("hugepages-*kB"):
        size = d.name.removeprefix("hugepages-").removesuffix("kB")
        if size.isdigit() and (d / "enabled").exists():
            found[int(size)] = d / "enabled"
    return dict(sorted(found.items()))


def mthp_order(size_kb: int) -> int:
    """The folio order of an mTHP size, or KernelUnavailable saying why it cannot be used."""
    switches = mthp_switches()
    if size_kb >= PMD_KB or size_kb not in switches:
        usable = ", ".join(f"{k}K" for k in switches if k < PMD_KB) or "none"
        raise KernelUnavailable(
            f"this kernel has no pte-mapped anonymous mTHP size {size_kb}K (usable here: {usable})"
        )
    return (size_kb // (PAGE // 1024)).bit_length() - 1


def swap_header(pages: int, bad: Sequence[int] = (), label: bytes = LABEL) -> bytes:
    """Page 0 of a v1 swap area of `pages` pages (last_page = pages - 1)."""
    if pages < 2:
        raise ValueError("a swap area needs at least 2 pages")
    head = bytearray(PAGE)
    body = struct.pack("<III", 1, pages - 1, len(bad)) + bytes(16) + label[:16].ljust(16, b"\0")
    body += bytes(4 * 117) + struct.pack(f"<{len(bad)}I", *bad)
    head[1024 : 1024 + len(body)] = body
    head[PAGE - 10 :] = b"SWAPSPACE2"
    return bytes(head)


def write_swap_file(path: Path, pages: int, bad: Sequence[int] = ()) -> None:
    """A swap file of exactly `pages` pages with no holes: the header page written, the rest
    allocated by fallocate(2) (unwritten extents, which swapon accepts: swap never reads a slot
    it has not written), or written with zeros where the file system cannot fallocate.
    Writing 4 MiB of zeros and syncing them cost most of a lane swapon."""
    if pages * PAGE > MAX_DEVICE_BYTES:
        raise ValueError(f"swap file of {pages} pages exceeds the lane's 64 MiB limit")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, swap_header(pages, bad))
        try:
            os.posix_fallocate(fd, PAGE, (pages - 1) * PAGE)
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
        else:
            os.fsync(fd)
            return
        zero = bytes(PAGE * 256)
        left = pages - 1
        while left:
            n = min(left, 256)
            os.write(fd, zero[: n * PAGE])
            left -= n
        os.fsync(fd)
    finally:
        os.close(fd)


def has_label(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(PAGE)
    except OSError:
        return False
    return len(head) == PAGE and head[-10:] == b"SWAPSPACE2" and head[1024 + 28 : 1024 + 44] == LABEL


def swapon(path: Path, priority: int | None = None, discard: str = "none") -> None:
    flags = 0 if priority is None else SWAP_FLAG_PREFER | priority
    flags |= {
        "none": 0,
        "once": SWAP_FLAG_DISCARD | SWAP_FLAG_DISCARD_ONCE,
        "pages": SWAP_FLAG_DISCARD | SWAP_FLAG_DISCARD_PAGES,
    }[discard]
    if _libc.swapon(os.fsencode(str(path)), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"swapon {path}: {os.strerror(e)}")


def swapoff(path: Path) -> None:
    if _libc.swapoff(os.fsencode(str(path))) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"swapoff {path}: {os.strerror(e)}")


def proc_swaps() -> list[dict[str, Any]]:
    """/proc/swaps rows: filename, type, size/used in KiB, priority."""
    rows = []
    for line in Path("/proc/swaps").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            name = parts[0].replace("\\040", " ")
            rows.append(
                {
                    "filename": name,
                    "kind": parts[1],
                    "size": int(parts[2]),
                    "used": int(parts[3]),
                    "priority": int(parts[4]),
                }
            )
    return rows


def meminfo() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        out[key] = int(rest.split()[0])
    return out


def vmstat() -> dict[str, int]:
    """/proc/vmstat counters (event counters such as pswpin/pswpout are exact sums over CPUs)."""
    words = Path("/proc/vmstat").read_text().split()  # "name value" per line
    return dict(zip(words[::2], map(int, words[1::2])))


def check_host() -> None:
    """Raise KernelUnavailable with one line unless the lane can run here."""
    if platform.system() != "Linux":
        raise KernelUnavailable(f"the kernel lane needs Linux (this is {platform.system()})")
    if os.geteuid() != 0:
        raise KernelUnavailable("the kernel lane needs root (swapon(2), /proc/PID/pagemap swap bits)")
    if not Path("/proc/swaps").exists():
        raise KernelUnavailable("this kernel has no swap support (/proc/swaps missing)")
    if not Path("/proc/self/pagemap").exists():
        raise KernelUnavailable("this kernel has no /proc/self/pagemap")
    if not PAGE_CLUSTER.exists():
        raise KernelUnavailable("this kernel has no /proc/sys/vm/page-cluster")


def _swapped_off(path: Path, active: set[str]) -> bool:
    """True unless `path` is active and swapoff fails (then it is left for a later run)."""
    if str(path) not in active:
        return True
    try:
        swapoff(path)
    except OSError:
        return False
    return True


def cleanup_stale() -> list[str]:
    """Swap off and remove devices of an earlier crashed run (lane dir + label); names them."""
    removed: list[str] = []
    if not LANE_DIR.is_dir():
        return removed
    active = {row["filename"] for row in proc_swaps()}
    for dev, back in loop.lane_loops(LANE_DIR):
        if has_label(back) and _swapped_off(dev, active):
            loop.detach(dev)
            removed.append(str(dev))
    for path in sorted(LANE_DIR.glob("swap-*.img")):
        if not has_label(path) or not _swapped_off(path, active):
            continue
        if any(back == path for _, back in loop.lane_loops(LANE_DIR)):
            continue  # still bound to a loop device we could not free
        path.unlink(missing_ok=True)
        removed.append(str(path))
    return removed


def _block_device_of(path: Path) -> str:
    """The whole-disk block device name holding `path` (a partition resolves to its disk)."""
    dev = os.stat(path).st_dev
    sys_dev = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    try:
        resolved = sys_dev.resolve()
    except OSError:
        return ""
    if (resolved / "partition").exists():
        resolved = resolved.parent
    return resolved.name


@dataclass(frozen=True)
class OwnedDevice:
    """A device the lane created: what swapon was given, and the file behind it."""

    swap_path: Path  # the swap file itself, or /dev/loopN
    backing: Path

    @property
    def is_loop(self) -> bool:
        return self.swap_path != self.backing


def hugepage_lock(*, shared: bool, wait: bool = True) -> int:
    """Take HUGEPAGE_LOCK_PATH and return its fd; closing the fd releases it.  Exclusive for a
    host lane run with --mthp, shared for each of swapdiff's QEMU guests.  Without `wait`, a
    held lock raises BlockingIOError."""
    HUGEPAGE_LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(HUGEPAGE_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _hugepage_lock_announced() -> int:
    """The exclusive hugepage lock for an --mthp run, saying on stdout when it has to wait (QEMU
    guests of swapdiff hold it shared for their whole run; stderr is for the one-line error)."""
    try:
        return hugepage_lock(shared=False, wait=False)
    except BlockingIOError:
        print(
            f"swapdiff kernel: waiting for {HUGEPAGE_LOCK_PATH} (held by running QEMU guests; "
            "an --mthp run needs it alone)",
            flush=True,
        )
        return hugepage_lock(shared=False)


class KernelHost:
    """Exclusive, self-cleaning ownership of the kernel's swap state for one run."""

    def __init__(
        self, *, allow_existing: bool = False, page_cluster: int = 0, thp: str = "never", mthp_kb: int = 0
    ) -> None:
        """`mthp_kb`: the one anonymous mTHP size switched to "madvise" for the run (0: none);
        every other per-size switch is "never", so a MADV_HUGEPAGE region faults in folios of
        exactly that size."""
        self.allow_existing = allow_existing
        self.page_cluster = page_cluster
        self.thp = thp
        self.mthp_kb = mthp_kb
        self.devices: list[OwnedDevice] = []
        self.saved: dict[Path, str] = {}
        self.stale: list[str] = []
        self._lock_fd: int | None = None
        self._hugepage_fd: int | None = None
        self._old_handlers: dict[int, Any] = {}
        self._serial = 0
        self.paused_damon: list[reclaimers.PausedScheme] = []

    # ---- entering and leaving ----
    def __enter__(self) -> KernelHost:
        check_host()
        LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._install_signals()
            LANE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.stale = cleanup_stale()
            others = [r["filename"] for r in proc_swaps()]
            if others and not self.allow_existing:
                raise KernelUnavailable(
                    f"other swap devices are active ({', '.join(others)}); pass --allow-existing"
                )
            self._set(PAGE_CLUSTER, str(self.page_cluster))
            if THP_ENABLED.exists():
                self._set(THP_ENABLED, self.thp)
            if self.mthp_kb:
                mthp_order(self.mthp_kb)
                self._hugepage_fd = _hugepage_lock_announced()
            for size, switch in mthp_switches().items():
                self._set(switch, "madvise" if size == self.mthp_kb else "never")
            self._pause_reclaimers()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _install_signals(self) -> None:
        def on_term(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError):  # not the main thread: try/finally only
                self._old_handlers[sig] = signal.signal(sig, on_term)

    def _pause_reclaimers(self) -> None:
        try:
            self.paused_damon = reclaimers.pause_damon()
            if reclaimers.damon_reclaim_enabled():
                self._set(reclaimers.DAMON_RECLAIM_ENABLED, "N")
        except OSError as err:
            raise KernelUnavailable(
                f"a DAMON pageout scheme is active and cannot be paused ({err}); stop it first"
            ) from None

    def _set(self, path: Path, value: str) -> None:
        current = path.read_text().strip()
        if "[" in current:  # THP style "always [madvise] never"
            current = current.split("[", 1)[1].split("]", 1)[0]
        self.saved.setdefault(path, current)
        path.write_text(value)

    def close(self) -> None:
        """Swap off and delete every device created, restore settings, release the lock."""
        errors = []
        for owned in reversed(self.devices):
            try:
                self._release(owned)
            except OSError as err:
                errors.append(str(err))
        self.devices.clear()
        for path, value in self.saved.items():
            try:
                path.write_text(value)
            except OSError as err:
                errors.append(f"restore {path}: {err}")
        self.saved.clear()
        errors += reclaimers.restore_damon(self.paused_damon)
        self.paused_damon = []
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()
        for fd in (self._hugepage_fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._lock_fd = self._hugepage_fd = None
        if errors:
            raise OSError(errno.EBUSY, "kernel lane teardown: " + "; ".join(errors))

    # ---- devices ----
    def add_device(
        self,
        pages: int,
        *,
        priority: int | None = None,
        discard: str = "none",
        blkdev: bool = False,
        bad: Sequence[int] = (),
    ) -> Path:
        """Create and swap on a lane-owned swap area of `pages` pages (whole clusters): a swap
        file, or with `blkdev` a loop device over one.  Returns the path /proc/swaps shows.  A
        refused swapon (e.g. EINVAL for a swap file listing bad pages) raises OSError and
        leaves nothing behind."""
        if pages % CLUSTER:
            raise ValueError(f"device size {pages} is not a whole number of {CLUSTER}-page clusters")
        if blkdev and not loop.available():
            raise KernelUnavailable("this kernel has no loop devices (/dev/loop-control missing)")
        self._serial += 1
        backing = LANE_DIR / f"swap-{os.getpid()}-{self._serial}.img"
        write_swap_file(backing, pages, bad)
        loop_fd = None
        try:
            if blkdev:
                swap_path, loop_fd = loop.attach(backing)
            else:
                swap_path = backing
        except OSError:
            backing.unlink(missing_ok=True)
            raise
        owned = OwnedDevice(swap_path, backing)
        self.devices.append(owned)
        try:
            swapon(owned.swap_path, priority, discard)
        except OSError as err:
            self.devices.remove(owned)
            self._release(owned)
            if err.errno == errno.EPERM:
                raise KernelUnavailable(f"swapon is not permitted here: {err.strerror}") from None
            raise
        finally:
            if loop_fd is not None:
                os.close(loop_fd)  # swapon holds the device now (or it detaches: autoclear)
        return owned.swap_path

    def rotational(self, path: Path) -> bool:
        """Whether the kernel sees the device behind `path` as rotational (not SWP_SOLIDSTATE).
        A swap file inherits the flag of the block device holding it."""
        owned = self._owned(path)
        name = owned.swap_path.name if owned.is_loop else _block_device_of(owned.backing)
        try:
            return (Path("/sys/class/block") / name / "queue" / "rotational").read_text().strip() == "1"
        except OSError:
            return True

    def _owned(self, path: Path) -> OwnedDevice:
        return next(d for d in self.devices if d.swap_path == path)

    def remove_device(self, path: Path) -> None:
        owned = self._owned(path)
        self._release(owned)
        self.devices.remove(owned)

    def _release(self, owned: OwnedDevice) -> None:
        """swapoff (if on), detach the loop device (if any), delete the backing file.  A failed
        swapoff leaves the labelled file in place, so the next run's cleanup can retry it."""
        if str(owned.swap_path) in {r["filename"] for r in proc_swaps()}:
            swapoff(owned.swap_path)
        if owned.is_loop:
            loop.detach(owned.swap_path)
        owned.backing.unlink(missing_ok=True)
