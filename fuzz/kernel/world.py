"""The kernel lane's model side: the reference plus the page tables the lane's processes hold.

Each lane action is translated here into reference API calls, the way the kernel's mm code
calls the swap layer (pageout = folio_alloc_swap + folio_dup_swap, fault = swap-in + put, zap =
swap_put_entries_direct, fork = swap_dup_entry_direct, swapoff = swapoff_begin, unuse of every
entry, swapoff_end).  It also holds what reclaim decides from state outside the swap API: which
folios are dirty.  A dirty folio (new, written, or without a slot) is written out at pageout
and stays in the swap cache afterwards (writeback does not free it and nothing in the lane
reclaims it later); a clean one that already has a slot is dropped from the swap cache at once.
`reads` and `writes` count the swap I/O this predicts (the kernel's pswpin/pswpout).

Faults follow the rules of the release the lane faces (`rules`, fuzz/kernel/rules.py): the
world tracks which ptes are exclusive (`shared_ptes` holds the others) so that whether a fault
frees its count-0 slot is predicted, never read back from the kernel.

The shmem pages (a memfd the helper maps shared) are a second user: the file, not a pte, holds
each swap entry.  Writeout = folio_alloc_swap + folio_dup_swap (the mapping's reference; the
folio stays in the swap cache after writeback, as anon does); a fault or swapoff's unuse = the
swap-cache folio (read unless cached) + folio_put_swap + swap_cache_del_folio, so the slot is
freed at once and the folio goes back to the page cache, dirty; a hole punch =
swap_put_entries_direct.  Kernel facts measured on 6.18 (reference/MODEL.md): a read fault
(pte none) first faults around, mapping the page-cache folios of its 16-page aligned window
that have no pte (not swapped pages, not holes), then shmem_fault handles the page if it is
still unmapped; a load or store on a present pte does not fault; a store is one write fault
(no fault-around); a hole's read fault allocates a zero-filled clean folio, which MADV_PAGEOUT
drops from the page cache instead of writing it (the page is a hole again).

The large-folio region (`large_order` > 0, helper only: MADV_DONTFORK) holds folios of one
mTHP order.  Kernel facts measured on 6.18 (README "Large folios"): a write fault on a page
whose naturally aligned block has no pte at all allocates one folio of that order mapping the
whole block (alloc_anon_folio; a block with any pte, e.g. the zero page a read fault maps,
gets order 0).  MADV_PAGEOUT of a whole large folio asks folio_alloc_swap for one aligned
range of the folio's order (a swap file never has one); when that fails, shrink_folio_list
splits the folio and pages its pieces out as order 0: the head page first, then the tail
pages from the last to the second (counted as swpout_fallback and split).  A fault on a page
of a large folio still in the swap cache maps the whole folio (do_swap_page); otherwise
swap-in is order 0 (this device is not SWP_SYNCHRONOUS_IO).  The lane never zaps or pages out
part of a large folio (that splits it, or queues it for a deferred split, at times of the
kernel's choosing), so a large folio is always mapped whole or swapped whole.

Hibernation slots (where /dev/snapshot exists, docs/hibernation.md): the image writer's
session (`hib_*`) is open or closed, names its swap area (a lane type) and holds slots in the
kernel's extents tree (`ExtentTree`); each SNAPSHOT_ALLOC_SWAP_PAGE is one
swap_alloc_hibernation_slot, and SNAPSHOT_FREE_SWAP_PAGES or closing frees every held slot with
swap_free_hibernation_slot in the tree's order (root extent first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from errno import ENODEV, ENOSPC
from typing import Any

from fuzz.kernel.extents import ExtentTree
from fuzz.kernel.rules import RULES, KernelRules
from reference.api import Entry, vm_swap_full
from reference.model import ReferenceSwap

HELPER = "helper"
FAULT_AROUND_PAGES = 16  # fault_around_bytes (64 KiB, the default; a debugfs knob) in pages


@dataclass
class ModelWorld:
    """The reference, the pages of the helper and its children, and folio dirtiness."""

    npages: int
    rules: KernelRules = RULES["6.18"]
    ref: ReferenceSwap = field(default_factory=lambda: ReferenceSwap(cluster_size=512))
    # page -> None (unpopulated) | ("r", folio) | ("s", Entry) | ("z",) (the zero page)
    procs: dict[str, list[Any]] = field(default_factory=dict)
    maps: dict[int, set[str]] = field(default_factory=dict)  # live folio -> processes mapping it
    dirty: set[int] = field(default_factory=set)
    # (process, page) whose pte is not exclusive: a present page without PageAnonExclusive (mapped
    # read-only), a swap pte without the exclusive marker.  Fork makes both sides' ptes so; a
    # write-protect fault that reuses the folio, or a new folio, makes the page exclusive again.
    shared_ptes: set[tuple[str, int]] = field(default_factory=set)
    fault_frees: int = 0  # count-0 slots the model's faults freed (the rules' predictions)
    swap_full_frees: int = 0  # of those, freed because more than half of swap was in use
    next_folio: int = 1
    reads: int = 0
    writes: int = 0
    shm_pages: int = 0
    # shmem page -> None (a hole) | ("c", folio) (page cache) | ("s", Entry)
    shm: list[Any] = field(default_factory=list)
    shm_mapped: list[bool] = field(default_factory=list)  # the helper's pte is present
    shm_dirty: list[bool] = field(default_factory=list)  # the page-cache folio is dirty
    # what the shmem rules of 6.18 did: neighbours mapped by fault-around, clean folios dropped
    shm_events: dict[str, int] = field(default_factory=lambda: {"fault_around": 0, "clean_dropped": 0})
    large_order: int = 0
    large_folios: int = 0
    large: list[Any] = field(default_factory=list)  # the large region's pages, as `procs`
    # per-size mTHP events the model predicts (the kernel's hugepages-*/stats counters)
    mthp: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("anon_fault_alloc", "swpout", "swpout_fallback", "split", "swpin"), 0
        )
    )

    # the /dev/snapshot session: open, its swap area (a model type, None before
    # SNAPSHOT_SET_SWAP_AREA), the held slots, and what was taken and freed over the run
    hib_open: bool = False
    hib_area: int | None = None
    hib_slots: ExtentTree = field(default_factory=ExtentTree)
    hib_since_free: bool = False  # a hib_alloc since the last free: the area may not change
    hib: dict[str, int] = field(default_factory=lambda: {"taken": 0, "freed": 0, "refused": 0})

    @property
    def large_nr(self) -> int:
        return 1 << self.large_order

    def __post_init__(self) -> None:
        self.procs[HELPER] = [("r", self._new_folio({HELPER})) for _ in range(self.npages)]
        for _ in range(self.shm_pages):
            self.shm.append(("c", self._new_shm_folio()))
            self.shm_mapped.append(True)
            self.shm_dirty.append(True)  # written at setup
        self.large = [None] * (self.large_folios * self.large_nr)
        for block in range(self.large_folios):
            self._large_fault_in(block * self.large_nr)

    # ---- folios ----
    def _new_shm_folio(self) -> int:
        """A new mapped order-0 folio (shmem page-cache folios are tracked in `shm`, not `maps`)."""
        f = self.next_folio
        self.next_folio += 1
        self.ref.folio_new(f, 0)
        self.ref.folio_set(f, mapped=True)
        return f

    def _new_folio(self, mappers: set[str], order: int = 0) -> int:
        """A new anonymous folio, mapped by `mappers` and dirty."""
        f = self.next_folio
        self.next_folio += 1
        self.ref.folio_new(f, order)
        self.ref.folio_set(f, mapped=True)
        self.maps[f] = set(mappers)
        self.dirty.add(f)
        return f

    def _cached_or_read(self, entry: Entry) -> int:
        """The swap-cache folio of `entry`, read from the device if it is not cached."""
        f = self.ref.swap_cache_folio(entry)
        if not f:
            f = self.ref.swap_cache_alloc_folio(entry, self.next_folio)
            self.next_folio += 1
            self.reads += 1
        return f

    def _swapin_folio(self, entry: Entry) -> int:
        """`_cached_or_read` for an anonymous entry: the folio is tracked in `maps`."""
        f = self._cached_or_read(entry)
        self.maps.setdefault(f, set())
        return f

    def _cached_entry(self, f: int) -> Entry:
        """The first entry of a folio the world knows to be in the swap cache."""
        entry = self.ref.folio_entry(f)
        if entry is None:
            raise AssertionError(f"model folio {f} is not in the swap cache")
        return entry

    def _unmap(self, f: int, proc: str) -> None:
        self.maps[f].discard(proc)
        if self.maps[f]:
            return
        self.ref.folio_set(f, mapped=False)
        if self.ref.folio_entry(f) is not None:
            self.ref.folio_free_swap(f)  # free_swap_cache on the last unmap

    def _map(self, f: int, proc: str) -> None:
        if not self.maps.get(f):
            self.ref.folio_set(f, mapped=True)
        self.maps.setdefault(f, set()).add(proc)

    def sweep(self) -> None:
        """Drop folios nobody maps that have left the swap cache (freed, as in the kernel)."""
        for f in [f for f, m in self.maps.items() if not m and self.ref.folio_entry(f) is None]:
            self.ref.folio_drop(f)
            del self.maps[f]
            self.dirty.discard(f)

    # ---- what the lane compares ----
    def cached(self, entry: Entry) -> bool:
        return self.ref.swap_cache_folio(entry) != 0

    def nr(self, f: int) -> int:
        return self.ref.folios[f].nr

    def swap_cached_pages(self) -> int:
        anon = sum(self.nr(f) for f in self.maps if self.ref.folio_entry(f) is not None)
        return anon + sum(1 for st in self.shm if st is not None and st[0] == "s" and self.cached(st[1]))

    def shm_resident(self, page: int) -> int:
        """mincore of a shmem page: in the page cache, or its swap slot's folio is cached."""
        st = self.shm[page]
        if st is None:
            return 0
        return 1 if st[0] == "c" else int(self.cached(st[1]))

    def inuse(self, type: int) -> int:
        dev = self.ref.device(type)
        return dev.inuse if dev else 0

    # ---- actions ----
    def pageout(self, start: int, n: int) -> None:
        pages = self.procs[HELPER]
        for p in range(start, start + n):
            st = pages[p]
            if st is None or st[0] != "r" or self.maps[st[1]] != {HELPER}:
                continue  # not an anon folio, or shared: MADV_PAGEOUT skips it
            f = st[1]
            fresh = self.ref.folio_entry(f) is None
            if fresh and self.ref.folio_alloc_swap(f) != 0:
                continue
            self._swap_out(pages, p, f, fresh)

    def _swap_out(self, pages: list[Any], first: int, f: int, fresh: bool) -> None:
        """try_to_unmap (folio_dup_swap of every page) and pageout of a folio that has its slots;
        its pages from `first` on become swap ptes."""
        self.ref.folio_dup_swap(f)
        entry = self._cached_entry(f)
        self.ref.folio_set(f, mapped=False)
        self.maps[f] = set()
        nr = self.nr(f)
        if fresh or f in self.dirty:
            self.writes += nr  # written out; the now clean folio stays in the swap cache
            self.mthp["swpout"] += nr > 1
            self.dirty.discard(f)
        else:
            self.ref.swap_cache_del_folio(f)  # clean: reclaimed at once
        for i in range(nr):
            pages[first + i] = ("s", Entry(entry.type, entry.offset + i))

    def fault(self, page: int, write: bool) -> None:
        """A load of the helper's page, then for `write` a store (the lane's "write": a read
        fault maps a swapped page, writable if its pte was exclusive, and the store faults
        again only on a read-only pte)."""
        pages = self.procs[HELPER]
        st = pages[page]
        if st is None or st[0] == "z":
            self._new_page(page, write)
            return
        if st[0] == "s":
            f = self._swapin_folio(st[1])
            self._fault_put(f)  # a read fault frees the slot only when swap is half full
            self._map(f, HELPER)
            pages[page] = ("r", f)
        if write:
            self._write_present(page)

    def store(self, page: int) -> None:
        """A store to the helper's page without a load first: on a swapped page, one write fault
        (do_swap_page with FAULT_FLAG_WRITE), whose slot freeing is the release's rule."""
        pages = self.procs[HELPER]
        st = pages[page]
        if st is None or st[0] == "z":
            self._new_page(page, True)
            return
        if st[0] == "s":
            f = self._swapin_folio(st[1])
            self._fault_put(f)
            self._map(f, HELPER)
            pages[page] = ("r", f)
            if (HELPER, page) not in self.shared_ptes:
                # mapped writable at once: do_wp_page is not reached
                self.dirty.add(f)
                if self.rules.write_fault_frees_exclusive:
                    self._free_at_fault(f)
                return
        self._write_present(page)

    def _new_page(self, page: int, write: bool) -> None:
        """A fault on a page without a folio: a write maps a new exclusive folio, a read the
        zero page."""
        self.procs[HELPER][page] = ("r", self._new_folio({HELPER})) if write else ("z",)
        self.shared_ptes.discard((HELPER, page))

    def _write_present(self, page: int) -> None:
        """A store to a present page: no fault on an exclusive (writable) pte; else do_wp_page,
        which reuses the folio if only this process maps it and its slot (if it has one) has
        count 0 (wp_can_reuse_anon_folio frees that slot), else copies it (a new folio)."""
        pages = self.procs[HELPER]
        f = pages[page][1]
        key = (HELPER, page)
        if key in self.shared_ptes:
            entry = self.ref.folio_entry(f)
            shared_slot = entry is not None and self.ref.swap_count(entry) > 0
            self.shared_ptes.discard(key)
            if self.maps[f] != {HELPER} or shared_slot:
                self._unmap(f, HELPER)
                pages[page] = ("r", self._new_folio({HELPER}))
                return
            self._free_at_fault(f)
        self.dirty.add(f)

    def _fault_put(self, f: int) -> None:
        """do_swap_page's folio_put_swap of the mapped slots; when more than half of swap is
        in use (vm_swap_full, which should_try_to_free_swap tests in every release before the
        fault's kind) the fault also frees the folio's slots if their counts are 0."""
        self.ref.folio_put_swap(f)
        if vm_swap_full(self.ref.nr_swap_pages(), self.ref.total_swap_pages()) and self.ref.folio_free_swap(
            f
        ):
            self.fault_frees += 1
            self.swap_full_frees += 1

    def _free_at_fault(self, f: int) -> None:
        """folio_free_swap of a faulted folio still in the swap cache (its slots' counts are 0)."""
        if self.ref.folio_entry(f) is None:
            return
        if not self.ref.folio_free_swap(f):
            raise AssertionError(f"model folio {f}: a fault-time free found a slot still referenced")
        self.fault_frees += 1

    def zap(self, proc: str, start: int, n: int) -> None:
        pages = self.procs[proc]
        for p in range(start, start + n):
            st = pages[p]
            if st is not None and st[0] == "s":
                self.ref.swap_put_entries_direct(st[1], 1)
            elif st is not None and st[0] == "r":
                self._unmap(st[1], proc)
            pages[p] = None
            self.shared_ptes.discard((proc, p))

    def fork(self, child: int) -> None:
        copy = list(self.procs[HELPER])
        for p, st in enumerate(copy):
            if st is not None and st[0] == "s":
                self.ref.swap_dup_entry_direct(st[1])
            elif st is not None and st[0] == "r":
                self.maps[st[1]].add(str(child))
            if st is not None and st[0] in ("s", "r"):  # copy_pte_range write-protects both sides
                self.shared_ptes.update({(HELPER, p), (str(child), p)})
        self.procs[str(child)] = copy

    def child_exit(self, child: int) -> None:
        self.zap(str(child), 0, self.npages)
        del self.procs[str(child)]

    # ---- the large-folio region (helper only) ----
    def _block(self, page: int) -> range:
        start = page - page % self.large_nr
        return range(start, start + self.large_nr)

    def _large_fault_in(self, page: int) -> None:
        """A write fault on an unpopulated page: one folio of the region's order if its aligned
        block has no pte at all, else an order-0 folio."""
        block = self._block(page)
        if all(self.large[p] is None for p in block):
            f = self._new_folio({HELPER}, self.large_order)
            for p in block:
                self.large[p] = ("r", f)
            self.mthp["anon_fault_alloc"] += 1
        else:
            self.large[page] = ("r", self._new_folio({HELPER}))

    def large_pageout(self, start: int, n: int) -> None:
        """MADV_PAGEOUT of whole blocks: the folios in address order; a large one without a slot
        that gets no aligned range is split and its pieces paged out as order 0."""
        p = start
        while p < start + n:
            st = self.large[p]
            if st is None or st[0] != "r":
                p += 1
                continue
            f, nr = st[1], self.nr(st[1])
            first = p if nr == 1 else self._block(p).start
            fresh = self.ref.folio_entry(f) is None
            if fresh and self.ref.folio_alloc_swap(f) != 0:
                if nr > 1:
                    self._split_and_pageout(f, self._block(p))
            else:
                self._swap_out(self.large, first, f, fresh)
            p = first + nr

    def _split_and_pageout(self, f: int, block: range) -> None:
        """shrink_folio_list's fallback: split_folio_to_list, then the head page is retried first
        and the tails follow from the last page to the second (the order measured on 6.18)."""
        self.mthp["swpout_fallback"] += 1
        self.mthp["split"] += 1
        del self.maps[f]
        self.dirty.discard(f)
        self.ref.folio_drop(f)
        for p in block:
            self.large[p] = ("r", self._new_folio({HELPER}))
        for p in [block[0], *reversed(block[1:])]:
            g = self.large[p][1]
            if self.ref.folio_alloc_swap(g) == 0:
                self._swap_out(self.large, p, g, fresh=True)

    def large_fault(self, page: int, write: bool) -> None:
        """Like `store` (a write is a plain store) and `fault`; a swapped page whose large folio
        is still cached maps the whole folio.  Every pte of the region is exclusive (it is not
        inherited by fork), so a present page is writable and a store to it does not fault."""
        pages = self.large
        st = pages[page]
        if st is None:
            if write:
                self._large_fault_in(page)
            else:
                pages[page] = ("z",)
            return
        if st[0] == "z":
            if write:  # copy-on-write of the zero page: order 0
                pages[page] = ("r", self._new_folio({HELPER}))
            return
        if st[0] == "r":
            if write:
                self.dirty.add(st[1])
            return
        entry = st[1]
        f = self.ref.swap_cache_folio(entry)
        if f and self.nr(f) > 1:
            block = self._block(page)
            first = self._cached_entry(f)
            whole = [("s", Entry(first.type, first.offset + i)) for i in range(len(block))]
            if [pages[p] for p in block] != whole:
                raise AssertionError(f"large folio {f} is cached but its block is not all its swap ptes")
            self._fault_put(f)
            for p in block:
                pages[p] = ("r", f)
        else:
            f = self._swapin_folio(entry)
            self._fault_put(f)
            pages[page] = ("r", f)
        self._map(f, HELPER)
        if write:
            self.dirty.add(f)
            if self.rules.write_fault_frees_exclusive:
                self._free_at_fault(f)

    def large_zap(self, start: int, n: int) -> None:
        """MADV_DONTNEED of whole blocks: runs of consecutive swap entries are put as one batch
        (zap_nonpresent_ptes); unmapped folios leave the swap cache when the TLB batch is freed,
        after the walk (free_pages_and_swap_cache)."""
        run: list[Entry] = []
        unmapped = []
        for p in range(start, start + n):
            st = self.large[p]
            self.large[p] = None
            if st is not None and st[0] == "s":
                if run and (st[1].type != run[0].type or st[1].offset != run[0].offset + len(run)):
                    self.ref.swap_put_entries_direct(run[0], len(run))
                    run = []
                run.append(st[1])
                continue
            if run:
                self.ref.swap_put_entries_direct(run[0], len(run))
                run = []
            if st is not None and st[0] == "r" and self.maps[st[1]]:
                self.maps[st[1]].discard(HELPER)
                unmapped.append(st[1])
        if run:
            self.ref.swap_put_entries_direct(run[0], len(run))
        for f in unmapped:
            self.ref.folio_set(f, mapped=False)
            if self.ref.folio_entry(f) is not None:
                self.ref.folio_free_swap(f)

    def large_shape(self, page: int) -> str | None:
        """What /proc/kpageflags shows for a page: "head"/"tail" of a large folio, "small", the
        "zero" page, or None (not present)."""
        st = self.large[page]
        if st is None or st[0] == "s":
            return None
        if st[0] == "z":
            return "zero"
        if self.nr(st[1]) == 1:
            return "small"
        return "head" if page % self.large_nr == 0 else "tail"

    def _unuse_large(self, type: int) -> None:
        """try_to_unuse on the large region: each swap pte gets its page of the cached folio (a
        large folio is mapped back page by page) or an order-0 folio read from the device."""
        for p, st in enumerate(self.large):
            if st is None or st[0] != "s" or st[1].type != type:
                continue
            f = self._swapin_folio(st[1])
            index = st[1].offset - self._cached_entry(f).offset
            self.ref.folio_put_swap(f, index if self.nr(f) > 1 else None)
            self._map(f, HELPER)
            self.large[p] = ("r", f)
            if self.ref.swap_count(st[1]) == 0:
                self.ref.folio_free_swap(f)

    # ---- shmem ----
    def shm_pageout(self, start: int, n: int) -> None:
        """MADV_PAGEOUT of the mapping: every folio this process maps is unmapped; a dirty one
        is written to a new slot (shmem_writeout) unless swap is full, a clean one (a hole's
        zero-filled folio, never written) is dropped from the page cache: a hole again."""
        for p in range(start, start + n):
            st = self.shm[p]
            if st is None or st[0] != "c" or not self.shm_mapped[p]:
                continue  # MADV_PAGEOUT reaches only pages this process maps
            f = st[1]
            self.ref.folio_set(f, mapped=False)  # try_to_unmap
            self.shm_mapped[p] = False
            if not self.shm_dirty[p]:
                self.ref.folio_drop(f)
                self.shm[p] = None
                self.shm_events["clean_dropped"] += 1
                continue
            if self.ref.folio_alloc_swap(f) != 0:
                continue  # no swap: the folio stays in the page cache, still dirty
            self.ref.folio_dup_swap(f)
            self.writes += 1
            self.shm[p] = ("s", self.ref.folio_entry(f))

    def _shm_swapin(self, p: int) -> int:
        """shmem_swapin_folio: the slot's folio (read unless cached) leaves the swap cache for
        the page cache, dirty, and the slot is freed."""
        f = self._cached_or_read(self.shm[p][1])
        self.ref.folio_put_swap(f)
        self.ref.swap_cache_del_folio(f)
        self.shm[p] = ("c", f)
        self.shm_dirty[p] = True
        return f

    def _shm_fault_in(self, p: int) -> None:
        """shmem_fault and the pte it maps: a hole gets a new zero-filled clean folio (a read
        fault allocates too), a swapped page is swapped in."""
        st = self.shm[p]
        if st is None:
            self.shm[p] = ("c", self._new_shm_folio())
            self.shm_dirty[p] = False
        else:
            f = self._shm_swapin(p) if st[0] == "s" else st[1]
            self.ref.folio_set(f, mapped=True)
        self.shm_mapped[p] = True

    def _fault_around(self, p: int) -> None:
        """do_fault_around: the page-cache folios of the FAULT_AROUND_PAGES-aligned window
        around `p`, clipped to the mapping (which starts at a page-table boundary), get a pte
        where they have none; swapped pages and holes in the window are left alone."""
        start = p - p % FAULT_AROUND_PAGES
        for q in range(start, min(start + FAULT_AROUND_PAGES, self.shm_pages)):
            st = self.shm[q]
            if st is not None and st[0] == "c" and not self.shm_mapped[q]:
                self.ref.folio_set(st[1], mapped=True)
                self.shm_mapped[q] = True
                self.shm_events["fault_around"] += q != p

    def shm_read(self, p: int) -> None:
        """A load: no fault if the pte is present; else a read fault, which faults around
        first (mapping `p` too if it is cached) and calls shmem_fault only if `p` is still
        unmapped."""
        if self.shm_mapped[p]:
            return
        self._fault_around(p)
        if not self.shm_mapped[p]:
            self._shm_fault_in(p)

    def shm_write(self, p: int) -> None:
        """A store of a non-zero byte: a write fault (no fault-around) if the pte is not
        present; the folio is dirty either way (the pte's dirty bit reaches it at unmap)."""
        if not self.shm_mapped[p]:
            self._shm_fault_in(p)
        self.shm_dirty[p] = True

    def shm_zap(self, start: int, n: int) -> None:
        for p in range(start, start + n):
            st = self.shm[p]
            if st is not None and st[0] == "c" and self.shm_mapped[p]:
                self.ref.folio_set(st[1], mapped=False)
            self.shm_mapped[p] = False

    def shm_punch(self, start: int, n: int) -> None:
        for p in range(start, start + n):
            st = self.shm[p]
            if st is not None and st[0] == "s":
                self.ref.swap_put_entries_direct(st[1], 1)
            elif st is not None:
                self.ref.folio_set(st[1], mapped=False)
                self.ref.folio_drop(st[1])
            self.shm[p] = None
            self.shm_mapped[p] = False
            self.shm_dirty[p] = False

    # ---- hibernation slots (the /dev/snapshot image writer) ----
    def hib_set_area(self, type: int) -> None:
        """SNAPSHOT_SET_SWAP_AREA on a lane device (the lane asks only while no slot is held:
        the kernel refuses with EPERM then)."""
        if self.hib_slots:
            raise AssertionError("SNAPSHOT_SET_SWAP_AREA while hibernation slots are held")
        self.hib_area = type

    def hib_alloc(self, n: int) -> list[int]:
        """`n` SNAPSHOT_ALLOC_SWAP_PAGE calls: each slot's offset, -ENOSPC when none is free,
        -ENODEV without a swap area."""
        out = []
        self.hib_since_free = True
        for _ in range(n):
            if self.hib_area is None:
                out.append(-ENODEV)
                continue
            entry = self.ref.swap_alloc_hibernation_slot(self.hib_area)
            if entry is None:
                self.hib["refused"] += 1
                out.append(-ENOSPC)
                continue
            self.hib_slots.insert(entry.offset)
            self.hib["taken"] += 1
            out.append(entry.offset)
        return out

    def hib_free(self) -> None:
        """free_all_swap_pages: every held slot, in the extents tree's order."""
        self.hib_since_free = False
        for offset in self.hib_slots.pop_all():
            assert self.hib_area is not None
            self.ref.swap_free_hibernation_slot(Entry(self.hib_area, offset))
            self.hib["freed"] += 1

    def hib_close(self) -> None:
        """Closing the device frees every held slot and ends the session (the area with it)."""
        self.hib_free()
        self.hib_open = False
        self.hib_area = None

    def swapon(
        self, pages: int, priority: int, *, bad: list[int], solidstate: bool, blkdev: bool, discard: str
    ) -> int:
        return self.ref.swapon(
            pages, priority=priority, bad=bad, solidstate=solidstate, blkdev=blkdev, discard=discard
        )

    def swapoff(self, type: int) -> str | None:
        """try_to_unuse: every pte on `type` gets its folio back (read unless cached), then every
        remaining swap-cache folio of the device leaves the cache.  Returns a problem or None."""
        if self.ref.swapoff_begin(type) != 0:
            return f"the model cannot begin swapoff of type {type}"
        for p, st in enumerate(self.shm):  # shmem_unuse comes first; pages stay unmapped
            if st is not None and st[0] == "s" and st[1].type == type:
                self._shm_swapin(p)
        self._unuse_large(type)
        for proc, pages in self.procs.items():
            for p, st in enumerate(pages):
                if st is None or st[0] != "s" or st[1].type != type:
                    continue
                f = self._swapin_folio(st[1])
                self.ref.folio_put_swap(f)
                self._map(f, proc)
                pages[p] = ("r", f)
                if self.ref.swap_count(st[1]) == 0:
                    self.ref.folio_free_swap(f)
        for f in list(self.maps):
            entry = self.ref.folio_entry(f)
            if entry is not None and entry.type == type:
                self.ref.folio_free_swap(f)
        if self.ref.swapoff_end(type) != 0:
            return f"the model cannot finish swapoff of type {type} (slots still in use)"
        return None
