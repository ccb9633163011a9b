"""The kernel lane's driver: world actions as syscalls in a pinned helper process over a pipe.

The helper (forked from the lane, so the lane's own memory is never paged out on purpose) maps
`npages` private anonymous order-0 pages (MADV_NOHUGEPAGE) and a shared mapping of `shm_pages`
pages of a memfd (shmem, at a 2 MiB-aligned address: `SharedFileRegion`), fills each page
with distinct non-zero data, then obeys one-line JSON
commands: pageout/zap of page ranges (MADV_PAGEOUT / MADV_DONTNEED), read and write faults,
the same on the shmem mapping (``s``-prefixed) plus a hole punch in the memfd, fork of a child
sharing the mappings and that child's exit, and mincore(2) of both mappings (in itself or,
forwarded, in a child).  With `large_pages`, a third mapping, aligned to its folio size, MADV_HUGEPAGE
and MADV_DONTFORK (children never see it), holds the large folios (the per-size mTHP switch the
host set to "madvise" decides their order): ``l``-prefixed pageout/zap/read/write act on it,
and a write there is a plain store (no read first, which would map the zero page and make the
fault order 0).  The lane reads the pages' swap entries from /proc/PID/pagemap of the
helper and of every child.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import mmap
import os
import signal
import struct
from dataclasses import dataclass
from typing import Any

from fuzz.kernel.snapshot import Snapshot

PAGE = 4096
MADV_DONTNEED = 4
MADV_DONTFORK = 10
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_PAGEOUT = 21
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63
PM_PFN = (1 << 55) - 1
KPF_COMPOUND_HEAD = 1 << 15
KPF_COMPOUND_TAIL = 1 << 16
KPF_ZERO_PAGE = 1 << 24

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
MAP_FIXED = 0x10
PMD_PAGES = 512  # the pages one page table maps (2 MiB): fault-around never crosses it
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2


def address(region: mmap.mmap) -> int:
    """The virtual address of a mapping (what pagemap and mincore are asked about)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(region))


def mincore(region: mmap.mmap, npages: int) -> list[int]:
    """mincore(2) residency bit per page: a present pte, or a swap pte whose slot's folio is in
    the swap cache (and uptodate)."""
    vec = ctypes.create_string_buffer(npages)
    if _libc.mincore(address(region), npages * PAGE, vec) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mincore: {os.strerror(e)}")
    return [b & 1 for b in vec.raw]


def pagemap_words(pid: int, addr: int, npages: int) -> list[int]:
    """The raw /proc/PID/pagemap word of each page."""
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(addr // PAGE * 8)
        raw = f.read(npages * 8)
    return [word for (word,) in struct.iter_unpack("<Q", raw)]


def swap_entry(word: int) -> tuple[int, int] | None:
    """(swap type, offset) of a pagemap word if the pte holds a swap entry, else None."""
    if word & PM_SWAP:
        return (word & 0x1F, (word >> 5) & ((1 << 50) - 1))
    return None


def pagemap_entries(pid: int, addr: int, npages: int) -> list[tuple[int, int] | None]:
    """For each page: (swap type, offset) if swapped, None if present or unpopulated."""
    return [swap_entry(word) for word in pagemap_words(pid, addr, npages)]


class LruDrainer:
    """Drains the per-CPU LRU batches of every CPU this process may run on.

    A folio sitting in another CPU's batch holds an extra reference: a writeback that ends on
    CPU 1 queues the folio for rotation there, and a later MADV_PAGEOUT of it from CPU 0 then
    finds the page cache "not freeable" and skips the write (pswpout one short, the folio left
    dirty).  MADV_PAGEOUT drains the calling CPU's batches before it starts, even for a range
    with no pages, so visiting each CPU with a pageout of an untouched page drains them all.
    """

    def __init__(self) -> None:
        self.cpus = sorted(os.sched_getaffinity(0))
        self.page = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)

    def drain(self) -> None:
        home = os.sched_getaffinity(0)
        try:
            for cpu in self.cpus:
                os.sched_setaffinity(0, {cpu})
                self.page.madvise(MADV_PAGEOUT, 0, PAGE)
        finally:
            os.sched_setaffinity(0, home)

    def close(self) -> None:
        self.page.close()


def probe_pageout() -> str | None:
    """Page one scratch page of this process out and look for it in /proc/self/pagemap; returns
    what is missing (MADV_PAGEOUT, or pagemap's swap bit) or None.  Needs an active swap device."""
    scratch = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        scratch[0] = 1
        try:
            scratch.madvise(MADV_PAGEOUT, 0, PAGE)
        except OSError as err:
            return f"madvise(MADV_PAGEOUT) fails here ({err.strerror}; it needs Linux 5.4+)"
        if pagemap_entries(os.getpid(), address(scratch), 1)[0] is None:
            return "MADV_PAGEOUT did not show a swap entry in /proc/self/pagemap (bit 62)"
        return None
    finally:
        scratch.close()


def page_kinds(words: list[int]) -> list[tuple[str, int] | None]:
    """For each present page of a pagemap read: ("head" | "tail" | "small" | "zero", pfn) from
    /proc/kpageflags (which folio shape maps it), None for a page that is not present."""
    out: list[tuple[str, int] | None] = []
    with open("/proc/kpageflags", "rb") as f:
        for word in words:
            if not word & PM_PRESENT:
                out.append(None)
                continue
            pfn = word & PM_PFN
            f.seek(pfn * 8)
            (flags,) = struct.unpack("<Q", f.read(8))
            kind = "zero" if flags & KPF_ZERO_PAGE else "small"
            if flags & KPF_COMPOUND_HEAD:
                kind = "head"
            elif flags & KPF_COMPOUND_TAIL:
                kind = "tail"
            out.append((kind, pfn))
    return out


class AlignedRegion:
    """A private anonymous mapping whose start is aligned to `align_pages` pages (mTHP faults
    only allocate naturally aligned folios), MADV_HUGEPAGE and MADV_DONTFORK."""

    def __init__(self, npages: int, align_pages: int) -> None:
        self.raw = mmap.mmap(-1, (npages + align_pages) * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.offset = -address(self.raw) % (align_pages * PAGE)
        self.addr = address(self.raw) + self.offset
        self.npages = npages
        self.raw.madvise(MADV_HUGEPAGE)
        self.raw.madvise(MADV_DONTFORK)

    def madvise(self, advice: int, start: int, n: int) -> None:
        self.raw.madvise(advice, self.offset + start * PAGE, n * PAGE)

    def read(self, page: int) -> int:
        return self.raw[self.offset + page * PAGE]

    def store(self, page: int) -> None:
        """Never a zero byte: a zero-filled page is not written to swap (the swap zeromap) and a
        split remaps it to the shared zero page, neither of which the model follows."""
        self.raw[self.offset + page * PAGE] = page % 255 + 1

    def write(self, page: int, align_pages: int) -> None:
        """A write fault; if it mapped a large folio, every page of it gets data too (stores to
        pages the folio already maps: no fault, no swap-state change)."""
        self.store(page)
        start = page - page % align_pages
        words = pagemap_words(os.getpid(), self.addr + start * PAGE, align_pages)
        kind = page_kinds([words[page - start]])[0]
        if kind is not None and kind[0] in ("head", "tail"):
            for p in range(start, start + align_pages):
                self.store(p)

    def mincore(self) -> list[int]:
        vec = ctypes.create_string_buffer(self.npages)
        if self.npages and _libc.mincore(self.addr, self.npages * PAGE, vec) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"mincore: {os.strerror(e)}")
        return [b & 1 for b in vec.raw]


class SharedFileRegion:
    """The memfd mapped MAP_SHARED at a 2 MiB-aligned address (MAP_FIXED inside a reserved
    range).  A read fault there runs fault-around over the 16-page VA-aligned window clipped
    to the VMA and to the page table; with page 0 at a page-table boundary that window is a
    function of the page index alone, which the model needs.  Loads and stores are single
    byte accesses through ctypes: a store is one write fault (no read first, which would be a
    read fault and fault around)."""

    def __init__(self, fd: int, npages: int) -> None:
        self.npages = npages
        length = max(1, npages) * PAGE
        self.reserve = mmap.mmap(-1, length + PMD_PAGES * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        base = address(self.reserve)
        self.addr = base + -base % (PMD_PAGES * PAGE)
        prot, flags = mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED | MAP_FIXED
        got = _libc.mmap(self.addr, length, prot, flags, fd, 0)
        if got != self.addr:
            e = ctypes.get_errno()
            raise OSError(e, f"mmap(MAP_FIXED) of the memfd: {os.strerror(e)}")

    def madvise(self, advice: int, start: int, n: int) -> None:
        if _libc.madvise(self.addr + start * PAGE, n * PAGE, advice) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"madvise({advice}) of the memfd mapping: {os.strerror(e)}")

    def read(self, page: int) -> int:
        return ctypes.c_ubyte.from_address(self.addr + page * PAGE).value

    def store(self, page: int) -> None:
        """A plain store of a non-zero byte: a zero-filled folio would not be written to swap
        (the swap zeromap), which the model does not follow."""
        ctypes.c_ubyte.from_address(self.addr + page * PAGE).value = page % 255 + 1

    def fill(self, page: int, word: int) -> None:
        ctypes.memmove(self.addr + page * PAGE, struct.pack("<Q", word), 8)

    def mincore(self) -> list[int]:
        vec = ctypes.create_string_buffer(self.npages)
        if self.npages and _libc.mincore(self.addr, self.npages * PAGE, vec) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"mincore: {os.strerror(e)}")
        return [b & 1 for b in vec.raw]


def punch_hole(fd: int, start: int, n: int) -> None:
    if _libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start * PAGE, n * PAGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"fallocate(PUNCH_HOLE): {os.strerror(e)}")


@dataclass
class Mappings:
    """The helper's two tracked mappings (a child inherits both at the same addresses)."""

    anon: mmap.mmap
    npages: int
    shm: SharedFileRegion
    shm_fd: int
    shm_pages: int
    large: AlignedRegion


def _touch(region: mmap.mmap, page: int, write: bool) -> int:
    """A read of the page's first byte, then for a write a store of a new non-zero value (a
    zero-filled page would not be written to swap: the swap zeromap)."""
    off = page * PAGE
    if write:
        region[off] = region[off] % 255 + 1
        return 0
    return region[off]


def _hibernation(snap: Snapshot, op: str, cmd: dict[str, Any]) -> Any:
    """The /dev/snapshot commands, run here so that the slots come from CPU 0's per-CPU swap
    cluster, as the helper's pageouts do."""
    if op == "hib_open":
        return snap.open()
    if op == "hib_area":
        return snap.set_area(cmd["device"])
    if op == "hib_alloc":
        return [snap.alloc() for _ in range(cmd["n"])]
    if op == "hib_free":
        return snap.free_all()
    snap.close()  # hib_close
    return 0


def _serve(rfd: int, wfd: int, maps: Mappings, snap: Snapshot | None = None) -> None:
    """The loop of the helper and of its children (a child obeys 'mincore' and 'exit').  Only
    the helper holds `snap`, the /dev/snapshot descriptor (a child closes its inherited copy:
    the device releases the slots only when its last descriptor is closed)."""
    region, npages = maps.anon, maps.npages
    rf = os.fdopen(rfd, "r")
    wf = os.fdopen(wfd, "w")
    children: dict[int, tuple[int, Any, Any]] = {}
    for line in rf:
        cmd = json.loads(line)
        op = cmd["op"]
        reply: Any = 0
        if op == "pageout":
            region.madvise(MADV_PAGEOUT, cmd["start"] * PAGE, cmd["n"] * PAGE)
        elif op == "zap":
            region.madvise(MADV_DONTNEED, cmd["start"] * PAGE, cmd["n"] * PAGE)
        elif op in ("read", "write"):
            reply = _touch(region, cmd["page"], op == "write")
        elif op == "store":  # no load first: one write fault on a swapped page
            region[cmd["page"] * PAGE] = cmd["page"] % 255 + 1
        elif op == "spageout":
            maps.shm.madvise(MADV_PAGEOUT, cmd["start"], cmd["n"])
        elif op == "szap":
            maps.shm.madvise(MADV_DONTNEED, cmd["start"], cmd["n"])
        elif op == "sread":
            reply = maps.shm.read(cmd["page"])
        elif op == "swrite":
            maps.shm.store(cmd["page"])
        elif op == "lpageout":
            maps.large.madvise(MADV_PAGEOUT, cmd["start"], cmd["n"])
        elif op == "lzap":
            maps.large.madvise(MADV_DONTNEED, cmd["start"], cmd["n"])
        elif op == "lread":
            reply = maps.large.read(cmd["page"])
        elif op == "lwrite":
            maps.large.write(cmd["page"], cmd["nr"])
        elif op == "spunch":
            punch_hole(maps.shm_fd, cmd["start"], cmd["n"])
        elif op.startswith("hib_") and snap is not None:
            reply = _hibernation(snap, op, cmd)
        elif op == "hello":
            reply = [maps.shm.addr, maps.large.addr]
        elif op == "fork":
            c_r, p_w = os.pipe()
            p_r, c_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(p_w)
                os.close(p_r)
                for _, cw, cr in children.values():
                    cw.close()
                    cr.close()
                rf.close()
                wf.close()
                if snap is not None:
                    snap.close()
                _serve(c_r, c_w, maps)
                os._exit(0)
            os.close(c_r)
            os.close(c_w)
            children[cmd["child"]] = (pid, os.fdopen(p_w, "w"), os.fdopen(p_r, "r"))
            reply = pid
        elif op == "mincore":
            reply = {"anon": mincore(region, npages), "shm": maps.shm.mincore()}
            if cmd.get("large"):
                reply["large"] = maps.large.mincore()
        elif op == "child":
            _, cw, cr = children[cmd["child"]]
            cw.write(json.dumps(cmd["cmd"]) + "\n")
            cw.flush()
            reply = json.loads(cr.readline())
        elif op == "child_exit":
            pid, cw, cr = children.pop(cmd["child"])
            cw.write(json.dumps({"op": "exit"}) + "\n")
            cw.flush()
            cr.readline()
            cw.close()
            cr.close()
            os.waitpid(pid, 0)
        elif op == "exit":
            for pid, cw, cr in children.values():
                cw.close()
                cr.close()
                os.waitpid(pid, 0)
            if snap is not None:
                snap.close()
            wf.write("0\n")
            wf.flush()
            return
        wf.write(json.dumps(reply) + "\n")
        wf.flush()


class Helper:
    """The pinned helper process owning the tracked mapping."""

    def __init__(
        self, npages: int, cpu: int, shm_pages: int = 0, large_pages: int = 0, large_align: int = 1
    ) -> None:
        self.npages = npages
        self.shm_pages = shm_pages
        self.large_npages = large_pages
        self.region = mmap.mmap(-1, npages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.region.madvise(MADV_NOHUGEPAGE)
        self.addr = address(self.region)
        self.children: dict[int, int] = {}
        c_r, p_w = os.pipe()
        p_r, c_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the helper
            code = 0
            try:
                os.close(p_w)
                os.close(p_r)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                os.sched_setaffinity(0, {cpu})
                for i in range(npages):
                    self.region[i * PAGE : i * PAGE + 8] = struct.pack("<Q", i + 1)
                shm_fd = os.memfd_create("swapdiff-kernel-shm")
                os.ftruncate(shm_fd, max(1, shm_pages) * PAGE)
                shm = SharedFileRegion(shm_fd, shm_pages)
                for i in range(shm_pages):
                    shm.fill(i, (1 << 32) + i)  # a write fault each: dirty, non-zero folios
                large = AlignedRegion(large_pages, large_align)  # made here: MADV_DONTFORK
                for i in range(large_pages):
                    large.store(i)  # a write fault: every aligned block becomes one folio
                maps = Mappings(self.region, npages, shm, shm_fd, shm_pages, large)
                _serve(c_r, c_w, maps, Snapshot())
            except BaseException:
                code = 1
            os._exit(code)
        os.close(c_r)
        os.close(c_w)
        self.pid = pid
        self._w = os.fdopen(p_w, "w")
        self._r = os.fdopen(p_r, "r")
        self.shm_addr, self.large_addr = self.call("hello")

    def call(self, op: str, **args: Any) -> Any:
        self._w.write(json.dumps({"op": op, **args}) + "\n")
        self._w.flush()
        line = self._r.readline()
        if not line:
            raise RuntimeError(f"kernel lane helper died during {op}")
        return json.loads(line)

    def fork(self, child: int) -> None:
        self.children[child] = self.call("fork", child=child)

    def child_exit(self, child: int) -> None:
        self.call("child_exit", child=child)
        del self.children[child]

    def _pids(self) -> dict[str, int]:
        return {"helper": self.pid, **{str(c): pid for c, pid in self.children.items()}}

    def entries(self) -> dict[str, list[tuple[int, int] | None]]:
        """Swap entries of every anonymous page, per process ('helper' and each child id)."""
        return {proc: pagemap_entries(pid, self.addr, self.npages) for proc, pid in self._pids().items()}

    def shm_ptes(self) -> dict[str, list[tuple[tuple[int, int] | None, bool]]]:
        """(swap entry, present) of each pte of the shmem mapping, per process, from one
        pagemap read per process."""
        return {
            proc: [
                (swap_entry(w), bool(w & PM_PRESENT))
                for w in pagemap_words(pid, self.shm_addr, self.shm_pages)
            ]
            for proc, pid in self._pids().items()
        }

    def large_pages(self) -> tuple[list[tuple[int, int] | None], list[tuple[str, int] | None]]:
        """The helper's large-folio region: each page's swap entry, and its folio shape."""
        words = pagemap_words(self.pid, self.large_addr, self.large_npages)
        return [swap_entry(w) for w in words], page_kinds(words)

    def residency(self) -> dict[str, dict[str, list[int]]]:
        """mincore residency of every page of both mappings ({'anon': [...], 'shm': [...]}),
        per process ('helper' and each child id)."""
        out = {"helper": self.call("mincore", large=True)}
        for child in self.children:
            out[str(child)] = self.call("child", child=child, cmd={"op": "mincore"})
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            self.call("exit")
        try:
            self._w.close()
            self._r.close()
        except OSError:
            pass
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.region.close()
