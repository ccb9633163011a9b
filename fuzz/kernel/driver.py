"""The kernel lane's driver: world actions as syscalls in a pinned helper process over a pipe.

The helper (forked from the lane, so the lane's own memory is never paged out on purpose) maps
`npages` private anonymous order-0 pages (MADV_NOHUGEPAGE) and a shared mapping of `shm_pages`
pages of a memfd (shmem, at a 2 MiB-aligned address: `SharedFileRegion`), fills each page
with distinct non-zero data, then obeys one-line JSON
commands: pageout/zap of page ranges (MADV_PAGEOUT / MADV_DONTNEED), read and write faults,
the same on the shmem mapping (``s``-prefixed) plus a hole punch in the memfd, fork of a child
sharing the mappings and that child's exit.  With `large_pages`, a third mapping, aligned to
its folio size, MADV_HUGEPAGE and MADV_DONTFORK (children never see it), holds the large folios
(the per-size mTHP switch the host set to "madvise" decides their order): ``l``-prefixed
pageout/zap/read/write act on it, and a write there is a plain store (no read first, which
would map the zero page and make the fault order 0).  A pageout returns once the folios it
wrote are out of writeback (their PG_writeback, read from /proc/kpageflags).

``observe`` is the lane's view of the pages after a step, in one round trip: the helper and
every child (at once) each read their own /proc/self/pagemap (one read per mapping) and
mincore(2), and the helper the folio shapes of its large region from /proc/kpageflags; the
reply carries the raw words and bytes hex-encoded (`ProcessView` decodes them).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import mmap
import os
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

if __name__ == "__main__":  # the helper (python -I -S driver.py): no fuzz package on its path
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    from snapshot import Snapshot
else:
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
KPF_WRITEBACK = 1 << 8
KPF_COMPOUND_HEAD = 1 << 15
KPF_COMPOUND_TAIL = 1 << 16
KPF_ZERO_PAGE = 1 << 24

_libc = ctypes.CDLL(None, use_errno=True)  # the C library, without find_library (runs ldconfig)
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
STAT_REFRESH = "/proc/sys/vm/stat_refresh"
PMD_PAGES = 512  # the pages one page table maps (2 MiB): fault-around never crosses it
READY = b'"ready"\n'  # the helper's first line: its mappings exist and are faulted in
WRITEBACK_WAIT = 5.0  # seconds a pageout waits (bounded) for its folios' writeback to end
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2


def address(region: mmap.mmap) -> int:
    """The virtual address of a mapping (what pagemap and mincore are asked about)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(region))


def mincore_bits(addr: int, npages: int) -> bytes:
    """mincore(2) of `npages` pages at `addr`, one byte per page; bit 0 is set for a present
    pte, or a swap pte whose slot's folio is in the swap cache (and uptodate), or a file page
    in the page cache."""
    vec = ctypes.create_string_buffer(npages)
    if npages and _libc.mincore(addr, npages * PAGE, vec) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mincore: {os.strerror(e)}")
    return vec.raw


def madvise_at(addr: int, npages: int, advice: int) -> None:
    if _libc.madvise(addr, npages * PAGE, advice) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"madvise({advice}) at {addr:#x}: {os.strerror(e)}")


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
    """Drains the per-CPU LRU batches of every CPU this process may run on but the helper's,
    and keeps this process on the helper's CPU in between.

    A folio sitting in another CPU's batch holds an extra reference: a writeback that ends on
    CPU 1 queues the folio for rotation there, and a later MADV_PAGEOUT of it from CPU 0 then
    finds the page cache "not freeable" and skips the write (pswpout one short, the folio left
    dirty).  MADV_PAGEOUT drains the calling CPU's batches before it starts, even for a range
    with no pages, so visiting each other CPU with a pageout of an untouched page drains them
    all; the helper's own pageout drains the helper's CPU.  Staying on the helper's CPU makes
    every command a same-CPU handoff over the pipe (the writer sleeps, the reader runs there
    at once); across CPUs each command and reply waited for a turn on a busy CPU, which cost
    more than the drain's two migrations per pageout.
    """

    def __init__(self, helper_cpu: int) -> None:
        self.home = os.sched_getaffinity(0)
        self.cpus = sorted(self.home - {helper_cpu})
        self.stay = {helper_cpu} if helper_cpu in self.home else self.home
        self.page = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        os.sched_setaffinity(0, self.stay)

    def drain(self) -> None:
        try:
            for cpu in self.cpus:
                os.sched_setaffinity(0, {cpu})
                self.page.madvise(MADV_PAGEOUT, 0, PAGE)
        finally:
            os.sched_setaffinity(0, self.stay)

    def close(self) -> None:
        os.sched_setaffinity(0, self.home)
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


def kpageflags(fd: int, pfns: list[int]) -> list[int]:
    """The /proc/kpageflags word of each pfn, one read per run of consecutive pfns (a large
    folio's pages are one run)."""
    out: list[int] = []
    i = 0
    while i < len(pfns):
        j = i + 1
        while j < len(pfns) and pfns[j] == pfns[j - 1] + 1:
            j += 1
        out += struct.unpack(f"<{j - i}Q", os.pread(fd, (j - i) * 8, pfns[i] * 8))
        i = j
    return out


def page_kinds(words: list[int], fd: int | None = None) -> list[tuple[str, int] | None]:
    """For each present page of a pagemap read: ("head" | "tail" | "small" | "zero", pfn) from
    /proc/kpageflags (which folio shape maps it), None for a page that is not present.  `fd`:
    an open /proc/kpageflags (else it is opened for this call)."""
    if fd is None:
        fd = os.open("/proc/kpageflags", os.O_RDONLY)
        try:
            return page_kinds(words, fd)
        finally:
            os.close(fd)
    pfns = [word & PM_PFN for word in words if word & PM_PRESENT]
    flags = iter(kpageflags(fd, pfns))
    out: list[tuple[str, int] | None] = []
    for word in words:
        if not word & PM_PRESENT:
            out.append(None)
            continue
        f = next(flags)
        kind = "zero" if f & KPF_ZERO_PAGE else "small"
        if f & KPF_COMPOUND_HEAD:
            kind = "head"
        elif f & KPF_COMPOUND_TAIL:
            kind = "tail"
        out.append((kind, word & PM_PFN))
    return out


def wait_writeback(kpf_fd: int, pfns: list[int]) -> None:
    """Wait (bounded, WRITEBACK_WAIT) until none of these pages' folios is under writeback:
    the folios a pageout wrote keep their pfns while they stay in the swap cache, and a pfn
    that was freed meanwhile is not under writeback for us.  PG_writeback is a folio flag
    read exactly, unlike /proc/meminfo's per-CPU-batched Writeback, which needs a
    stat_refresh (a work item on every CPU) before it can be trusted."""
    deadline = time.monotonic() + WRITEBACK_WAIT
    while pfns and time.monotonic() < deadline:
        pfns = [pfn for pfn, f in zip(pfns, kpageflags(kpf_fd, pfns)) if f & KPF_WRITEBACK]
        if pfns:
            time.sleep(0.0005)


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
        madvise_at(self.addr + start * PAGE, n, advice)

    def read(self, page: int) -> int:
        return ctypes.c_ubyte.from_address(self.addr + page * PAGE).value

    def store(self, page: int) -> None:
        """A plain store of a non-zero byte: a zero-filled folio would not be written to swap
        (the swap zeromap), which the model does not follow."""
        ctypes.c_ubyte.from_address(self.addr + page * PAGE).value = page % 255 + 1

    def fill(self, page: int, word: int) -> None:
        ctypes.memmove(self.addr + page * PAGE, struct.pack("<Q", word), 8)


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


class _Process:
    """What the helper and each child read about themselves: their own pagemap (kept open:
    opening /proc/self/pagemap binds the opener's mm) and /proc/kpageflags."""

    def __init__(self, maps: Mappings) -> None:
        self.maps = maps
        self.pagemap = os.open("/proc/self/pagemap", os.O_RDONLY)
        self.kpageflags = os.open("/proc/kpageflags", os.O_RDONLY)
        self.anon_addr = address(maps.anon)

    def close(self) -> None:
        os.close(self.pagemap)
        os.close(self.kpageflags)

    def words(self, addr: int, npages: int) -> list[int]:
        return list(struct.unpack(f"<{npages}Q", os.pread(self.pagemap, npages * 8, addr // PAGE * 8)))

    def pageout(self, addr: int, start: int, n: int) -> None:
        """MADV_PAGEOUT of pages [start, start + n) of the mapping at `addr`, then wait for the
        writeback of every folio they mapped, so the next step finds no page in flight."""
        addr += start * PAGE
        present = [w & PM_PFN for w in self.words(addr, n) if w & PM_PRESENT]
        madvise_at(addr, n, MADV_PAGEOUT)
        wait_writeback(self.kpageflags, present)

    def observe(self, large: bool) -> dict[str, Any]:
        """This process's pagemap words (raw little-endian, hex) and mincore bytes (hex) of the
        anonymous and shmem mappings; with `large`, of the large region too, with the folio
        shape of each of its pages."""
        m = self.maps
        out: dict[str, Any] = {}
        for name, addr, n in (("anon", self.anon_addr, m.npages), ("shm", m.shm.addr, m.shm_pages)):
            out[name] = os.pread(self.pagemap, n * 8, addr // PAGE * 8).hex()
            out[name + "_in"] = mincore_bits(addr, n).hex()
        if large:
            words = self.words(m.large.addr, m.large.npages)
            out["large"] = struct.pack(f"<{len(words)}Q", *words).hex()
            out["large_in"] = mincore_bits(m.large.addr, m.large.npages).hex()
            out["large_kinds"] = page_kinds(words, self.kpageflags)
        return out


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
    """The loop of the helper and of its children (a child obeys 'observe' and 'exit').  Only
    the helper holds `snap`, the /dev/snapshot descriptor (a child closes its inherited copy:
    the device releases the slots only when its last descriptor is closed)."""
    region = maps.anon
    rf = os.fdopen(rfd, "r")
    wf = os.fdopen(wfd, "w")
    me = _Process(maps)
    children: dict[int, tuple[int, Any, Any]] = {}
    for line in rf:
        cmd = json.loads(line)
        op = cmd["op"]
        reply: Any = 0
        if op == "pageout":
            me.pageout(me.anon_addr, cmd["start"], cmd["n"])
        elif op == "zap":
            region.madvise(MADV_DONTNEED, cmd["start"] * PAGE, cmd["n"] * PAGE)
        elif op in ("read", "write"):
            reply = _touch(region, cmd["page"], op == "write")
        elif op == "store":  # no load first: one write fault on a swapped page
            region[cmd["page"] * PAGE] = cmd["page"] % 255 + 1
        elif op == "spageout":
            me.pageout(maps.shm.addr, cmd["start"], cmd["n"])
        elif op == "szap":
            maps.shm.madvise(MADV_DONTNEED, cmd["start"], cmd["n"])
        elif op == "sread":
            reply = maps.shm.read(cmd["page"])
        elif op == "swrite":
            maps.shm.store(cmd["page"])
        elif op == "lpageout":
            me.pageout(maps.large.addr, cmd["start"], cmd["n"])
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
                me.close()
                if snap is not None:
                    snap.close()
                _serve(c_r, c_w, maps)
                os._exit(0)
            os.close(c_r)
            os.close(c_w)
            children[cmd["child"]] = (pid, os.fdopen(p_w, "w"), os.fdopen(p_r, "r"))
            reply = pid
        elif op == "observe":
            reply = _observe_all(me, children, bool(cmd.get("large")))
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
        if "then_observe" in cmd:  # the action's effects are complete: fold and observe
            refresh_stats()
            reply = {"reply": reply, "seen": _observe_all(me, children, cmd["then_observe"])}
        wf.write(json.dumps(reply) + "\n")
        wf.flush()


def refresh_stats() -> None:
    """Fold every CPU's vmstat deltas into the global counters (stat_refresh: a work item on
    each CPU), so /proc/meminfo's per-CPU-batched counters (SwapCached) read exact."""
    with contextlib.suppress(OSError), open(STAT_REFRESH, "w") as f:
        f.write("1")


def _observe_all(me: _Process, children: dict[int, tuple[int, Any, Any]], large: bool) -> dict[str, Any]:
    """This process's observation and every child's: each child reads itself while this
    process does; keyed 'helper' and by child id."""
    for _, cw, _ in children.values():
        cw.write('{"op": "observe"}\n')
        cw.flush()
    seen = {"helper": me.observe(large)}
    for child, (_, _, cr) in children.items():
        seen[str(child)] = json.loads(cr.readline())["helper"]  # a child calls itself that
    return seen


def _words(hexed: str) -> list[int]:
    raw = bytes.fromhex(hexed)
    return list(struct.unpack(f"<{len(raw) // 8}Q", raw))


def _bits(hexed: str) -> list[int]:
    return [b & 1 for b in bytes.fromhex(hexed)]


@dataclass
class ProcessView:
    """One process's tracked pages as one observation saw them: pagemap words and mincore bits
    of the anonymous and shmem mappings (and, for the helper with a large region, of it, with
    each page's folio shape)."""

    anon: list[int]
    anon_in: list[int]
    shm: list[int]
    shm_in: list[int]
    large: list[int]
    large_in: list[int]
    large_kinds: list[tuple[str, int] | None]

    @classmethod
    def decode(cls, data: dict[str, Any]) -> ProcessView:
        raw_kinds = data.get("large_kinds", [])
        kinds: list[tuple[str, int] | None] = [(k[0], k[1]) if k else None for k in raw_kinds]
        return cls(
            _words(data["anon"]),
            _bits(data["anon_in"]),
            _words(data["shm"]),
            _bits(data["shm_in"]),
            _words(data.get("large", "")),
            _bits(data.get("large_in", "")),
            kinds,
        )


def _helper_main(npages: int, cpu: int, shm_pages: int, large_pages: int, large_align: int) -> None:
    """The helper: map and fill the tracked pages, then serve commands on stdin/stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the lane's Ctrl-C handling ends it
    os.sched_setaffinity(0, {cpu})
    region = mmap.mmap(-1, npages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(MADV_NOHUGEPAGE)
    for i in range(npages):
        region[i * PAGE : i * PAGE + 8] = struct.pack("<Q", i + 1)
    shm_fd = os.memfd_create("swapdiff-kernel-shm")
    os.ftruncate(shm_fd, max(1, shm_pages) * PAGE)
    shm = SharedFileRegion(shm_fd, shm_pages)
    for i in range(shm_pages):
        shm.fill(i, (1 << 32) + i)  # a write fault each: dirty, non-zero folios
    large = AlignedRegion(large_pages, large_align)  # MADV_DONTFORK: children never map it
    for i in range(large_pages):
        large.store(i)  # a write fault: every aligned block becomes one folio
    maps = Mappings(region, npages, shm, shm_fd, shm_pages, large)
    os.write(sys.stdout.fileno(), READY)  # every tracked page is faulted in
    _serve(sys.stdin.fileno(), sys.stdout.fileno(), maps, Snapshot())


class Helper:
    """The pinned helper process owning the tracked mappings.

    It is a fresh interpreter running this file (-I -S: the standard library only), not a fork
    of the lane: a fork would copy the lane's whole address space (the reference, the CLI's
    imports) into the helper and again into every child it forks, which made each fork and
    child exit cost tens of milliseconds.

    The constructor returns while the interpreter starts (the caller may do other work);
    `wait_ready` returns once the helper has mapped and faulted in every tracked page, and
    every command waits for that first.  Without it, the first observation's global counters
    were read while the helper was still starting: its large region's faults came after the
    read, so the per-size anon_fault_alloc lagged the model by the region's folios."""

    def __init__(
        self, npages: int, cpu: int, shm_pages: int = 0, large_pages: int = 0, large_align: int = 1
    ) -> None:
        self.npages = npages
        self.shm_pages = shm_pages
        self.large_npages = large_pages
        self.children: dict[int, int] = {}
        args = [npages, cpu, shm_pages, large_pages, large_align]
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.pid = self._proc.pid
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._w, self._r = self._proc.stdin, self._proc.stdout
        self.ready = False

    def wait_ready(self) -> None:
        """Wait until the helper's tracked pages exist and are faulted in."""
        if not self.ready:
            line = self._r.readline()
            if line.encode() != READY:
                raise RuntimeError(f"kernel lane helper failed to start (said {line!r})")
            self.ready = True

    def send(self, op: str, **args: Any) -> None:
        """Send one command without waiting for its reply (`receive` reads it)."""
        self.wait_ready()
        self._w.write(json.dumps({"op": op, **args}) + "\n")
        self._w.flush()

    def receive(self, op: str) -> Any:
        line = self._r.readline()
        if not line:
            raise RuntimeError(f"kernel lane helper died during {op}")
        return json.loads(line)

    def call(self, op: str, **args: Any) -> Any:
        self.send(op, **args)
        return self.receive(op)

    def fork(self, child: int) -> None:
        self.children[child] = self.call("fork", child=child)

    def child_exit(self, child: int) -> None:
        self.call("child_exit", child=child)
        del self.children[child]

    def observe_send(self) -> None:
        """Start an observation: every process reads its own pagemap and mincore while the
        caller does other work; `observe_receive` collects it."""
        self.send("observe", large=self.large_npages > 0)

    def observe_receive(self) -> dict[str, ProcessView]:
        """Per process ('helper' and each child id), what it saw."""
        return {proc: ProcessView.decode(data) for proc, data in self.receive("observe").items()}

    def observe(self) -> dict[str, ProcessView]:
        self.observe_send()
        return self.observe_receive()

    def act_send(self, op: str, **args: Any) -> None:
        """Send an action whose reply carries the observation after it (one round trip per
        step): the helper runs the action, folds the per-CPU vmstat deltas (stat_refresh, so
        the caller's /proc/meminfo read after the reply is exact), then observes every process.
        The caller may update its model meanwhile; `act_receive` collects both."""
        self.send(op, then_observe=self.large_npages > 0, **args)

    def act_receive(self, op: str) -> tuple[Any, dict[str, ProcessView]]:
        """The action's reply, and per process what it saw after the action."""
        got = self.receive(op)
        return got["reply"], {proc: ProcessView.decode(data) for proc, data in got["seen"].items()}

    def entries(self) -> dict[str, list[tuple[int, int] | None]]:
        """Swap entries of every anonymous page, per process ('helper' and each child id)."""
        return {proc: [swap_entry(w) for w in v.anon] for proc, v in self.observe().items()}

    def shm_ptes(self) -> dict[str, list[tuple[tuple[int, int] | None, bool]]]:
        """(swap entry, present) of each pte of the shmem mapping, per process."""
        return {
            proc: [(swap_entry(w), bool(w & PM_PRESENT)) for w in v.shm] for proc, v in self.observe().items()
        }

    def large_pages(self) -> tuple[list[tuple[int, int] | None], list[tuple[str, int] | None]]:
        """The helper's large-folio region: each page's swap entry, and its folio shape."""
        view = self.observe()["helper"]
        return [swap_entry(w) for w in view.large], view.large_kinds

    def residency(self) -> dict[str, dict[str, list[int]]]:
        """mincore residency of every page of the tracked mappings ({'anon': [...], 'shm':
        [...]}, and 'large' for the helper), per process ('helper' and each child id)."""
        out = {}
        for proc, v in self.observe().items():
            out[proc] = {"anon": v.anon_in, "shm": v.shm_in}
            if proc == "helper":
                out[proc]["large"] = v.large_in
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            self.call("exit")
        with contextlib.suppress(OSError):
            self._w.close()
            self._r.close()
        self._proc.wait()


if __name__ == "__main__":
    try:
        _helper_main(*map(int, sys.argv[1:]))
    except BaseException:
        os._exit(1)
    os._exit(0)
