"""The reference model: Linux swap entry management in plain dicts and lists.

This is the specification swapdiff checks every other implementation against.  It follows
`kernel/swap-semantics.md` under the decisions of DESIGN.md and reference/MODEL.md, and keeps
the kernel's names (mm/swapfile.c, mm/swap_state.c) so the two read side by side.  It is meant
to be read in one sitting: no numpy, no cleverness, one function per kernel building block.

Slot state lives in three dicts per device, as in the kernel's phase II layout:
`swap_map[off]` is the swap count (absent = 0), `swap_cache[off]` the folio id caching the
slot, `shadows[off]` a workingset shadow of a SWAPPED slot; `bad` holds BAD offsets (header,
bad pages, padding of the last cluster).  A slot is FREE when it is in none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reference import api, digest
from reference.api import (
    CLUSTER_FLAG_DISCARD,
    CLUSTER_FLAG_FRAG,
    CLUSTER_FLAG_FREE,
    CLUSTER_FLAG_FULL,
    CLUSTER_FLAG_NAMES,
    CLUSTER_FLAG_NONE,
    CLUSTER_FLAG_NONFULL,
    DEF_SWAP_PRIO,
    DISCARD_KINDS,
    EBUSY,
    EINVAL,
    ENOMEM,
    EPERM,
    MAX_SWAP_BADPAGES,
    MAX_SWAP_PRIO,
    SLOT_BAD,
    SLOT_CACHED,
    SLOT_SWAPPED,
    SWAP_COUNT_OVERFLOW,
    VALUE_LIMIT,
    Entry,
    Snapshot,
    SwapContractError,
    SwapDevice,
)

T = TypeVar("T")

# Reclaim policy flags of __try_to_reclaim_swap().
TTRS_ANYWAY = 1
TTRS_UNMAPPED = 2
TTRS_FULL = 4


@dataclass
class Folio(digest.Tracked):
    id: int
    order: int
    entry: Entry | None = None  # folio->swap while in the swap cache
    locked: bool = False
    writeback: bool = False
    mapped: bool = False

    @property
    def nr(self) -> int:
        return 1 << self.order

    @property
    def swap(self) -> Entry:
        """folio->swap of a folio its caller knows to be in the swap cache."""
        if self.entry is None:
            raise AssertionError(f"folio {self.id} is not in the swap cache")
        return self.entry


@dataclass
class Cluster(digest.Tracked):
    """swap_cluster_info: non-free slot count, list flag, and the order it is dedicated to."""

    count: int = 0
    flag: int = CLUSTER_FLAG_NONE
    order: int = 0


@dataclass
class SwapInfo(digest.Tracked):
    """swap_info_struct, with slot state as dicts and the cluster lists as Python lists."""

    type: int
    max: int
    pages: int
    prio: int
    solidstate: bool
    blkdev: bool
    discard: str
    nr_orders: int
    writeok: bool = True
    swapping_off: bool = False
    on_avail: bool = False
    inuse: int = 0
    swap_map: dict[int, int] = field(default_factory=dict)
    swap_cache: dict[int, int] = field(default_factory=dict)
    shadows: dict[int, int] = field(default_factory=dict)
    bad: set[int] = field(default_factory=set)
    clusters: list[Cluster] = field(default_factory=list)
    free_clusters: list[int] = field(default_factory=list)
    nonfull_clusters: list[list[int]] = field(default_factory=list)
    frag_clusters: list[list[int]] = field(default_factory=list)
    full_clusters: list[int] = field(default_factory=list)
    discard_clusters: list[int] = field(default_factory=list)
    global_next: list[int] = field(default_factory=list)  # global_cluster->next[order] (HDD)

    @property
    def page_discard(self) -> bool:
        return self.discard == "pages"

    def count(self, off: int) -> int:
        return self.swap_map.get(off, 0)


class ReferenceSwap:
    """The reference implementation of `reference.api.SwapImpl`."""

    def __init__(
        self, cluster_size: int = api.DEFAULT_CLUSTER_SIZE, max_swapfiles: int = api.DEFAULT_MAX_SWAPFILES
    ):
        api.check_geometry(cluster_size, max_swapfiles)
        self.cluster_size = cluster_size
        self.max_swapfiles = max_swapfiles
        self.pmd_order = api.pmd_order(cluster_size)
        # The incremental state digest (reference/digest.py): `folios`, `avail` and every
        # device's slot dicts and cluster lists are its tracking containers.
        self._digest = digest.StateDigest(self)
        self.devices: dict[int, SwapInfo] = {}
        self.folios: dict[int, Folio] = digest.FolioDict(self._digest)
        self._nr_swap_pages = 0
        self._total_swap_pages = 0
        self.pm_suspended = False
        self.avail: list[int] = self._digest.link_list((digest.R_AVAIL,))  # swap_avail_head, by type
        self.active: list[int] = []  # swap_active_head, by type
        # percpu_swap_cluster of the one CPU: device type and next offset per order.
        self.percpu_si, self.percpu_offset = self._digest.percpu_lists(
            [None] * (self.pmd_order + 1), [0] * (self.pmd_order + 1)
        )

    # ========================================================================================
    # Argument checks (DESIGN decision 11; the order is MODEL.md's table)
    # ========================================================================================

    def _device_of(self, type: Any) -> SwapInfo:
        if isinstance(type, int) and type in self.devices:
            return self.devices[type]
        raise SwapContractError("invalid-type", f"swap type {type!r} is not swapped on")

    def _entry(self, entry: Any) -> tuple[SwapInfo, int]:
        try:
            type, offset = entry
        except (TypeError, ValueError):
            raise SwapContractError("invalid-argument", f"not a swap entry: {entry!r}") from None
        si = self._device_of(type)
        if not isinstance(offset, int) or not 0 <= offset < si.max:
            raise SwapContractError("offset-out-of-range", f"offset {offset!r} outside [0, {si.max})")
        return si, offset

    def _folio(self, folio: Any) -> Folio:
        found = self.folios.get(folio) if isinstance(folio, int) else None
        if found is None:
            raise SwapContractError("folio-unknown", f"no live folio {folio!r}")
        return found

    def _cached_folio(self, folio: Any) -> Folio:
        f = self._folio(folio)
        if f.entry is None:
            raise SwapContractError("folio-not-in-swapcache", f"folio {folio} is not in the swap cache")
        return f

    def _new_folio_id(self, folio: Any) -> int:
        if not isinstance(folio, int) or not 0 < folio < VALUE_LIMIT:
            raise SwapContractError("folio-invalid-id", f"folio id {folio!r} is not in [1, 2**62)")
        if folio in self.folios:
            raise SwapContractError("folio-exists", f"folio {folio} is already live")
        return folio

    def _order(self, order: Any) -> int:
        if not isinstance(order, int) or not 0 <= order <= self.pmd_order:
            raise SwapContractError("folio-invalid-order", f"order {order!r} outside 0..{self.pmd_order}")
        return order

    def _selected_offsets(self, f: Folio, page: Any) -> list[int]:
        start = f.swap.offset
        if page is None:
            return list(range(start, start + f.nr))
        if not isinstance(page, int) or not 0 <= page < f.nr:
            raise SwapContractError("page-out-of-range", f"page {page!r} outside folio of {f.nr} pages")
        return [start + page]

    def _used_slot(self, si: SwapInfo, off: int) -> int:
        """The count of a slot that must be in use (count >= 1)."""
        if off in si.bad:
            raise SwapContractError("bad-slot", f"slot {off} of type {si.type} is BAD")
        if si.count(off) < 1:
            raise SwapContractError("not-swapped", f"slot {off} of type {si.type} has swap count 0")
        return si.count(off)

    # ========================================================================================
    # Small helpers
    # ========================================================================================

    def _vm_swap_full(self) -> bool:
        return api.vm_swap_full(self._nr_swap_pages, self._total_swap_pages)

    def _cluster_base(self, ci: int) -> int:
        return ci * self.cluster_size

    def _slot_free(self, si: SwapInfo, off: int) -> bool:
        return off not in si.bad and off not in si.swap_map and off not in si.swap_cache

    # ---- device lists: priority descending, FIFO among equals ----

    def _plist_add(self, plist: list[int], type: int) -> None:
        prio = self.devices[type].prio
        pos = len(plist)
        for i, other in enumerate(plist):
            if self.devices[other].prio < prio:
                pos = i
                break
        plist.insert(pos, type)

    def _add_to_avail_list(self, si: SwapInfo) -> None:
        if not si.on_avail:
            self._plist_add(self.avail, si.type)
            si.on_avail = True

    def _del_from_avail_list(self, si: SwapInfo) -> None:
        if si.on_avail:
            self.avail.remove(si.type)
            si.on_avail = False

    def _avail_requeue(self, si: SwapInfo) -> None:
        """plist_requeue: move a device to the tail of its priority group (round robin)."""
        self.avail.remove(si.type)
        self._plist_add(self.avail, si.type)

    # ========================================================================================
    # 2.0.1 / 2.0.2 usage accounting
    # ========================================================================================

    def _swap_range_alloc(self, si: SwapInfo, nr: int) -> None:
        si.inuse += nr
        if si.inuse == si.pages:
            self._del_from_avail_list(si)
        self._nr_swap_pages -= nr

    def _swap_range_free(self, si: SwapInfo, nr: int) -> None:
        self._nr_swap_pages += nr
        si.inuse -= nr
        if not si.on_avail and si.writeok and si.inuse < si.pages:
            self._add_to_avail_list(si)

    # ========================================================================================
    # 2.0.4 cluster lists
    # ========================================================================================

    def _list_of(self, si: SwapInfo, ci: int) -> list[int] | None:
        cluster = si.clusters[ci]
        flag = cluster.flag
        if flag == CLUSTER_FLAG_FREE:
            return si.free_clusters
        if flag == CLUSTER_FLAG_NONFULL:
            return si.nonfull_clusters[cluster.order]
        if flag == CLUSTER_FLAG_FRAG:
            return si.frag_clusters[cluster.order]
        if flag == CLUSTER_FLAG_FULL:
            return si.full_clusters
        if flag == CLUSTER_FLAG_DISCARD:
            return si.discard_clusters
        return None

    def _move_cluster(self, si: SwapInfo, ci: int, flag: int) -> None:
        """Take a cluster off its list and append it to the tail of the list for `flag`."""
        old = self._list_of(si, ci)
        if old is not None:
            old.remove(ci)
        si.clusters[ci].flag = flag
        new = self._list_of(si, ci)
        if new is not None:
            new.append(ci)

    def _isolate_cluster(self, si: SwapInfo, lst: list[int]) -> int:
        """Take the first cluster of a non-empty list for allocation (flag NONE, table allocated)."""
        ci = lst.pop(0)
        si.clusters[ci].flag = CLUSTER_FLAG_NONE
        return ci

    def _free_cluster(self, si: SwapInfo, ci: int) -> None:
        if si.writeok and si.page_discard:
            self._move_cluster(si, ci, CLUSTER_FLAG_DISCARD)
        else:
            self._free_cluster_now(si, ci)

    def _free_cluster_now(self, si: SwapInfo, ci: int) -> None:
        """__free_cluster: back to the free list, order reset."""
        self._move_cluster(si, ci, CLUSTER_FLAG_FREE)
        si.clusters[ci].order = 0

    def _partial_free_cluster(self, si: SwapInfo, ci: int) -> None:
        if si.clusters[ci].flag != CLUSTER_FLAG_NONFULL:
            self._move_cluster(si, ci, CLUSTER_FLAG_NONFULL)

    def _relocate_cluster(self, si: SwapInfo, ci: int) -> None:
        cluster = si.clusters[ci]
        if cluster.flag == CLUSTER_FLAG_DISCARD:
            return
        if cluster.count == 0:
            if cluster.flag != CLUSTER_FLAG_FREE:
                self._free_cluster(si, ci)
        elif cluster.count < self.cluster_size:
            if cluster.flag != CLUSTER_FLAG_FRAG:
                self._move_cluster(si, ci, CLUSTER_FLAG_FRAG)
        elif cluster.flag != CLUSTER_FLAG_FULL:
            self._move_cluster(si, ci, CLUSTER_FLAG_FULL)

    def _cluster_is_usable(self, si: SwapInfo, ci: int, order: int) -> bool:
        # A FREE cluster has no swap table until it is isolated, so it is not usable.
        cluster = si.clusters[ci]
        if cluster.flag not in (CLUSTER_FLAG_NONE, CLUSTER_FLAG_NONFULL, CLUSTER_FLAG_FRAG):
            return False
        return order == 0 or cluster.count == 0 or cluster.order == order

    def _swap_do_scheduled_discard(self, si: SwapInfo) -> bool:
        """discard_work: every cluster on the discard list becomes FREE, in order."""
        discarded = bool(si.discard_clusters)
        while si.discard_clusters:
            ci = si.discard_clusters[0]
            self._free_cluster_now(si, ci)
        return discarded

    # ========================================================================================
    # 2.0.3 freeing slots
    # ========================================================================================

    def _swap_entries_free(self, si: SwapInfo, start: int, nr: int) -> None:
        """Free `nr` slots of one cluster (count 1 uncached, or count 0 and uncached now)."""
        ci = start // self.cluster_size
        for off in range(start, start + nr):
            si.swap_map.pop(off, None)
            si.swap_cache.pop(off, None)
            si.shadows.pop(off, None)
        si.clusters[ci].count -= nr
        self._swap_range_free(si, nr)
        if si.clusters[ci].count == 0:
            self._free_cluster(si, ci)
        else:
            self._partial_free_cluster(si, ci)

    # ========================================================================================
    # 2.4 removing a folio from the swap cache
    # ========================================================================================

    def _swap_cache_del_folio(self, f: Folio, shadow: int) -> None:
        si = self.devices[f.swap.type]
        start = f.swap.offset
        offsets = range(start, start + f.nr)
        any_used = any(si.count(off) > 0 for off in offsets)
        zero = [off for off in offsets if si.count(off) == 0]
        for off in offsets:
            del si.swap_cache[off]
            if si.count(off) > 0 and shadow:
                si.shadows[off] = shadow
        f.entry = None
        if not any_used:
            self._swap_entries_free(si, start, f.nr)
        else:
            for off in zero:
                self._swap_entries_free(si, off, 1)

    # ========================================================================================
    # 2.6.2 try to reclaim a cached folio
    # ========================================================================================

    def _try_to_reclaim_swap(self, si: SwapInfo, off: int, flags: int) -> int:
        folio_id = si.swap_cache.get(off)
        if folio_id is None:
            return 0
        f = self.folios[folio_id]
        if f.locked:  # folio_trylock() fails: someone else holds the lock
            return -f.nr
        eligible = (
            flags & TTRS_ANYWAY
            or (flags & TTRS_UNMAPPED and not f.mapped)
            or (flags & TTRS_FULL and self._vm_swap_full())
        )
        if not eligible or f.writeback or self.pm_suspended:
            return -f.nr
        start = f.swap.offset
        if any(si.count(o) > 0 for o in range(start, start + f.nr)):
            return -f.nr
        nr = f.nr
        self._swap_cache_del_folio(f, 0)
        return nr

    # ========================================================================================
    # 2.0.6 the slot finder inside one cluster
    # ========================================================================================

    def _range_state(self, si: SwapInfo, start: int, nr: int) -> str:
        """'free', 'reclaim' (only cached count-0 slots block it, and vm_swap_full()), 'busy'."""
        reclaim = False
        for off in range(start, start + nr):
            if off in si.bad or si.count(off) > 0:
                return "busy"
            if off in si.swap_cache:
                if not self._vm_swap_full():
                    return "busy"
                reclaim = True
        return "reclaim" if reclaim else "free"

    def _reclaim_range(self, si: SwapInfo, start: int, nr: int) -> None:
        for off in range(start, start + nr):
            if si.count(off) > 0:
                return
            if off in si.swap_cache and self._try_to_reclaim_swap(si, off, TTRS_ANYWAY) < 0:
                return

    def _cluster_alloc_range(self, si: SwapInfo, ci: int, f: Folio | None, off: int, order: int) -> None:
        nr = 1 << order
        if f is not None:
            for slot in range(off, off + nr):
                si.swap_cache[slot] = f.id
                si.shadows.pop(slot, None)
            f.entry = Entry(si.type, off)
        else:
            si.swap_map[off] = 1  # a hibernation slot: SWAPPED, count 1, no shadow
        cluster = si.clusters[ci]
        if cluster.count == 0:
            cluster.order = order
        cluster.count += nr
        self._swap_range_alloc(si, nr)

    def _alloc_swap_scan_cluster(self, si: SwapInfo, ci: int, f: Folio | None, start: int, order: int) -> int:
        nr = 1 << order
        end = self._cluster_base(ci) + self.cluster_size
        cluster = si.clusters[ci]
        found = next_off = 0
        if cluster.count + nr <= self.cluster_size:
            off = start
            while off + nr <= end:
                state = self._range_state(si, off, nr)
                if state == "reclaim":
                    self._reclaim_range(si, off, nr)
                    if not self._cluster_is_usable(si, ci, order):
                        break
                    state = "free" if all(self._slot_free(si, o) for o in range(off, off + nr)) else "busy"
                if state == "busy":
                    off += nr
                    continue
                if not si.writeok:
                    break
                self._cluster_alloc_range(si, ci, f, off, order)
                found = off
                if cluster.count < self.cluster_size and off + 2 * nr <= end:
                    next_off = off + nr
                break
        self._relocate_cluster(si, ci)
        if si.solidstate:
            self.percpu_si[order] = si.type
            self.percpu_offset[order] = next_off
        else:
            si.global_next[order] = next_off
        return found

    def _scan_from_hint(self, si: SwapInfo, off: int, f: Folio | None, order: int) -> int:
        """Lock the cluster holding a hint offset and scan it if it is usable for the order."""
        ci = off // self.cluster_size
        if not self._cluster_is_usable(si, ci, order):
            return 0
        start = self._cluster_base(ci) if si.clusters[ci].count == 0 else off
        return self._alloc_swap_scan_cluster(si, ci, f, start, order)

    def _scan_list(self, si: SwapInfo, lst: list[int], f: Folio | None, order: int, scan_all: bool) -> int:
        # A scan-all pass visits each cluster that was on the list at most once (MODEL.md).
        budget = len(lst) if scan_all else 1
        while budget > 0 and lst:
            ci = self._isolate_cluster(si, lst)
            found = self._alloc_swap_scan_cluster(si, ci, f, self._cluster_base(ci), order)
            if found:
                return found
            budget -= 1
        return 0

    # ========================================================================================
    # 2.0.7 the per-device slow path
    # ========================================================================================

    def _cluster_alloc_swap_entry(self, si: SwapInfo, f: Folio | None, order: int) -> int:
        if order > 0 and not si.blkdev:
            return 0
        if not si.solidstate and si.global_next[order]:
            found = self._scan_from_hint(si, si.global_next[order], f, order)
            if found:
                return found
        if si.page_discard:
            found = self._scan_list(si, si.free_clusters, f, order, scan_all=False)
            if found:
                return found
        if order < self.pmd_order:
            # Every nonfull cluster that fails moves on to frag, so this ends.
            while si.nonfull_clusters[order]:
                found = self._scan_list(si, si.nonfull_clusters[order], f, order, scan_all=False)
                if found:
                    return found
        if not si.page_discard:
            found = self._scan_list(si, si.free_clusters, f, order, scan_all=False)
            if found:
                return found
        if self._vm_swap_full():
            self._swap_reclaim_full_clusters(si, force=False)
        if order < self.pmd_order:
            found = self._scan_list(si, si.frag_clusters[order], f, order, scan_all=False)
            if found:
                return found
        if order > 0:
            return 0
        for o in range(1, self.pmd_order + 1):  # order 0 steals from higher-order clusters
            found = self._scan_list(si, si.frag_clusters[o], f, order, scan_all=True)
            if found:
                return found
            found = self._scan_list(si, si.nonfull_clusters[o], f, order, scan_all=True)
            if found:
                return found
        return 0

    # ========================================================================================
    # 2.11.2 full-cluster reclaim
    # ========================================================================================

    def _swap_reclaim_full_clusters(self, si: SwapInfo, force: bool) -> None:
        to_scan = max(si.inuse // self.cluster_size, 1) if force else 1
        while si.full_clusters:
            ci = self._isolate_cluster(si, si.full_clusters)
            off = self._cluster_base(ci)
            end = min(si.max, off + self.cluster_size)
            to_scan -= 1
            while off < end:
                if si.count(off) == 0 and off in si.swap_cache:
                    reclaimed = self._try_to_reclaim_swap(si, off, TTRS_ANYWAY)
                    if reclaimed:
                        off += abs(reclaimed)
                        continue
                off += 1
            if si.clusters[ci].flag == CLUSTER_FLAG_NONE:  # nothing was freed
                self._relocate_cluster(si, ci)
            if to_scan <= 0:
                break

    # ========================================================================================
    # 2.1 folio_alloc_swap
    # ========================================================================================

    def _swap_alloc_fast(self, f: Folio, order: int) -> None:
        type, off = self.percpu_si[order], self.percpu_offset[order]
        if type is None or not off:
            return
        self._scan_from_hint(self.devices[type], off, f, order)

    def _swap_alloc_slow(self, f: Folio, order: int) -> None:
        # One pass over the avail list as it was when the walk began (DESIGN decision 7).
        for type in list(self.avail):
            si = self.devices[type]
            if not si.on_avail:
                continue
            self._avail_requeue(si)
            if self._cluster_alloc_swap_entry(si, f, order):
                return
            if order > 0:  # large folios never fall back to another device
                return

    def _swap_sync_discard(self) -> bool:
        for type in self.active:
            si = self.devices[type]
            if si.page_discard and si.discard_clusters:
                return self._swap_do_scheduled_discard(si)
        return False

    def folio_alloc_swap(self, folio: int, *, charge_fails: bool = False) -> int:
        f = self._folio(folio)
        if f.entry is not None:
            raise SwapContractError("folio-in-swapcache", f"folio {folio} is already in the swap cache")
        while True:
            self._swap_alloc_fast(f, f.order)
            if f.entry is None:
                self._swap_alloc_slow(f, f.order)
            if f.entry is not None or f.order > 0 or not self._swap_sync_discard():
                break
        if f.entry is None:
            return -ENOMEM
        if charge_fails:  # mem_cgroup_try_charge_swap() failed: undo as an ordinary free
            self._swap_cache_del_folio(f, 0)
            return -ENOMEM
        return 0

    # ========================================================================================
    # 2.2 folio_dup_swap / folio_put_swap and 2.7 swap_dup_entry_direct
    # ========================================================================================

    def _dup_needs_overflow(self, si: SwapInfo, offsets: Sequence[int]) -> bool:
        """DESIGN 3: a 14 -> 15 step in a cluster with no slot at 15 or more allocates storage."""
        if not any(si.count(off) == SWAP_COUNT_OVERFLOW - 1 for off in offsets):
            return False
        base = self._cluster_base(offsets[0] // self.cluster_size)
        return all(si.count(off) < SWAP_COUNT_OVERFLOW for off in range(base, base + self.cluster_size))

    def _swap_dup(self, si: SwapInfo, offsets: Sequence[int], alloc_fails: bool) -> int:
        if alloc_fails and self._dup_needs_overflow(si, offsets):
            return -ENOMEM
        for off in offsets:
            si.swap_map[off] = si.count(off) + 1
        return 0

    def _swap_put(self, si: SwapInfo, off: int) -> None:
        count = si.count(off) - 1
        if count:
            si.swap_map[off] = count
        else:
            del si.swap_map[off]

    def folio_dup_swap(self, folio: int, page: int | None = None, *, alloc_fails: bool = False) -> int:
        f = self._cached_folio(folio)
        offsets = self._selected_offsets(f, page)
        return self._swap_dup(self.devices[f.swap.type], offsets, alloc_fails)

    def folio_put_swap(self, folio: int, page: int | None = None) -> int:
        f = self._cached_folio(folio)
        offsets = self._selected_offsets(f, page)
        si = self.devices[f.swap.type]
        for off in offsets:
            if si.count(off) < 1:
                raise SwapContractError("put-count-zero", f"slot {off} of folio {folio} has count 0")
        for off in offsets:
            self._swap_put(si, off)  # a cached slot at 0 stays cached: freed with the folio
        return 0

    def swap_dup_entry_direct(self, entry: Entry, *, alloc_fails: bool = False) -> int:
        si, off = self._entry(entry)
        self._used_slot(si, off)
        return self._swap_dup(si, [off], alloc_fails)

    # ========================================================================================
    # 2.3 folio_free_swap and 2.4 swap_cache_del_folio
    # ========================================================================================

    def folio_free_swap(self, folio: int) -> bool:
        f = self._folio(folio)
        if f.entry is None or f.writeback or self.pm_suspended:
            return False
        si = self.devices[f.entry.type]
        start = f.entry.offset
        if any(si.count(off) > 0 for off in range(start, start + f.nr)):
            return False
        self._swap_cache_del_folio(f, 0)
        return True

    def swap_cache_del_folio(self, folio: int, shadow: int = 0) -> int:
        f = self._cached_folio(folio)
        if f.writeback:
            raise SwapContractError("folio-writeback", f"folio {folio} is under writeback")
        if not isinstance(shadow, int) or not 0 <= shadow < VALUE_LIMIT:
            raise SwapContractError("invalid-argument", f"shadow {shadow!r} is not in [0, 2**62)")
        self._swap_cache_del_folio(f, shadow)
        return 0

    # ========================================================================================
    # 2.5 swap-in
    # ========================================================================================

    def _add_folio(self, si: SwapInfo, folio: int, order: int, start: int) -> int:
        f = Folio(folio, order, Entry(si.type, start))
        self.folios[folio] = f
        for off in range(start, start + f.nr):
            si.swap_cache[off] = folio
            si.shadows.pop(off, None)  # handed back to the caller for refault accounting
        return folio

    def swap_cache_alloc_folio(self, entry: Entry, folio: int) -> int:
        si, off = self._entry(entry)
        self._new_folio_id(folio)
        if off in si.swap_cache:
            return si.swap_cache[off]
        if off in si.bad or si.count(off) == 0:  # not swapped: nothing to read
            return 0
        return self._add_folio(si, folio, 0, off)

    def swapin_folio(self, entry: Entry, folio: int, order: int) -> int:
        si, off = self._entry(entry)
        self._new_folio_id(folio)
        nr = 1 << self._order(order)
        start = off - off % nr
        for slot in range(start, start + nr):
            if slot in si.bad or slot >= si.max:
                raise SwapContractError("bad-slot", f"slot {slot} of type {si.type} is BAD")
        for slot in range(start, start + nr):
            if slot in si.swap_cache:
                return si.swap_cache[slot] if order == 0 else 0
            if si.count(slot) == 0:
                return 0
        return self._add_folio(si, folio, order, start)

    # ========================================================================================
    # 2.6 swap_put_entries_direct
    # ========================================================================================

    def swap_put_entries_direct(self, entry: Entry, nr: int) -> int:
        si, start = self._entry(entry)
        if not isinstance(nr, int) or nr < 1:
            raise SwapContractError("invalid-argument", f"nr {nr!r} must be at least 1")
        if start + nr > si.max:
            raise SwapContractError("offset-out-of-range", f"range end {start + nr} beyond max {si.max}")
        for off in range(start, start + nr):
            self._used_slot(si, off)
        off = start
        while off < start + nr:
            chunk_end = min(start + nr, self._cluster_base(off // self.cluster_size + 1))
            self._swap_put_entries_cluster(si, off, chunk_end)
            off = chunk_end
        return 0

    def _swap_put_entries_cluster(self, si: SwapInfo, start: int, end: int) -> None:
        need_reclaim = False
        batch_start = None
        for off in range(start, end):
            count = si.count(off)
            cached = off in si.swap_cache
            if count == 1 and not cached:
                if batch_start is None:
                    batch_start = off
                continue
            if count == 1:
                need_reclaim = True  # the cached slot drops to 0 and may be reclaimed
            self._swap_put(si, off)
            if batch_start is not None:
                self._swap_entries_free(si, batch_start, off - batch_start)
                batch_start = None
        if batch_start is not None:
            self._swap_entries_free(si, batch_start, end - batch_start)
        if not need_reclaim:
            return
        off = start
        while off < end:
            reclaimed = self._try_to_reclaim_swap(si, off, TTRS_UNMAPPED | TTRS_FULL)
            off += 1
            if reclaimed:
                step = abs(reclaimed)
                off = (off + step - 1) // step * step

    # ========================================================================================
    # 2.8 hibernation
    # ========================================================================================

    def swap_alloc_hibernation_slot(self, type: int) -> Entry | None:
        si = self.devices.get(type) if isinstance(type, int) else None
        if si is None or not si.writeok:
            return None
        found = 0
        if self.percpu_si[0] == type and self.percpu_offset[0]:
            found = self._scan_from_hint(si, self.percpu_offset[0], None, 0)
        if not found:
            found = self._cluster_alloc_swap_entry(si, None, 0)
        return Entry(type, found) if found else None

    def swap_free_hibernation_slot(self, entry: Entry) -> int:
        si, off = self._entry(entry)
        if self._used_slot(si, off) != 1:
            raise SwapContractError("not-hibernation-slot", f"slot {off} has count {si.count(off)}, not 1")
        self._swap_put(si, off)
        if off not in si.swap_cache:
            self._swap_entries_free(si, off, 1)
        self._try_to_reclaim_swap(si, off, TTRS_ANYWAY)
        return 0

    def set_pm_suspended_storage(self, flag: bool) -> int:
        self.pm_suspended = bool(flag)
        return 0

    # ========================================================================================
    # 2.9 swapon
    # ========================================================================================

    def swapon(
        self,
        size: int,
        *,
        priority: int | None = None,
        bad: Sequence[int] = (),
        solidstate: bool = True,
        blkdev: bool = True,
        discard: str = "none",
    ) -> int:
        if priority is not None and (not isinstance(priority, int) or not 0 <= priority <= MAX_SWAP_PRIO):
            return -EINVAL
        if discard not in DISCARD_KINDS:
            return -EINVAL
        type = next((t for t in range(self.max_swapfiles) if t not in self.devices), None)
        if type is None:
            return -EPERM
        if not isinstance(size, int) or size < 1 or not isinstance(bad, (list, tuple)):
            return -EINVAL
        bad_pages = list(bad)
        if any(not isinstance(b, int) or not 0 < b < size for b in bad_pages):
            return -EINVAL
        if len(set(bad_pages)) != len(bad_pages):
            return -EINVAL
        # read_swap_header: a swap file may not list bad pages, and the list fits one page.
        if (bad_pages and not blkdev) or len(bad_pages) > MAX_SWAP_BADPAGES:
            return -EINVAL
        pages = size - 1 - len(bad_pages)
        if pages <= 0:
            return -EINVAL
        si = SwapInfo(
            type=type,
            max=size,
            pages=pages,
            prio=DEF_SWAP_PRIO if priority is None else priority,
            solidstate=bool(solidstate),
            blkdev=bool(blkdev),
            discard=discard,
            nr_orders=self.pmd_order + 1,
        )
        self._setup_clusters(si, bad_pages)
        self._digest.adopt_device(si)
        self.devices[type] = si
        self._nr_swap_pages += pages
        self._total_swap_pages += pages
        self._plist_add(self.active, type)
        self._add_to_avail_list(si)
        return type

    def _setup_clusters(self, si: SwapInfo, bad: list[int]) -> None:
        nr_clusters = -(-si.max // self.cluster_size)
        si.bad = {0, *bad, *range(si.max, nr_clusters * self.cluster_size)}
        si.clusters = [Cluster() for _ in range(nr_clusters)]
        si.nonfull_clusters = [[] for _ in range(si.nr_orders)]
        si.frag_clusters = [[] for _ in range(si.nr_orders)]
        si.global_next = [0] * si.nr_orders
        for off in si.bad:
            si.clusters[off // self.cluster_size].count += 1
        for ci, cluster in enumerate(si.clusters):
            self._move_cluster(si, ci, CLUSTER_FLAG_NONFULL if cluster.count else CLUSTER_FLAG_FREE)

    # ========================================================================================
    # 2.10 swapoff, split in three (DESIGN decision 9)
    # ========================================================================================

    def swapoff_begin(self, type: int) -> int:
        si = self.devices.get(type) if isinstance(type, int) else None
        if si is None or not si.writeok:
            return -EINVAL
        si.writeok = False
        si.swapping_off = True
        self._del_from_avail_list(si)
        self.active.remove(type)
        self._nr_swap_pages -= si.pages
        self._total_swap_pages -= si.pages
        return 0

    def _swapping_off(self, type: Any) -> SwapInfo:
        si = self._device_of(type)
        if not si.swapping_off:
            raise SwapContractError("not-swapping-off", f"swap type {type} is not being swapped off")
        return si

    def swapoff_end(self, type: int) -> int:
        si = self._swapping_off(type)
        if si.inuse:
            return -EBUSY
        self._swap_do_scheduled_discard(si)
        for order, owner in enumerate(self.percpu_si):
            if owner == type:
                self.percpu_si[order] = None
                self.percpu_offset[order] = 0
        self._digest.drop_device(si)
        del self.devices[type]
        return 0

    def swapoff_abort(self, type: int) -> int:
        si = self._swapping_off(type)
        si.writeok = True
        si.swapping_off = False
        self._nr_swap_pages += si.pages
        self._total_swap_pages += si.pages
        self._plist_add(self.active, type)
        # The kernel re-inserts the device even when it is full (semantics 2.10 step 4).
        self._add_to_avail_list(si)
        return 0

    # ========================================================================================
    # 2.11 asynchronous work, as explicit calls
    # ========================================================================================

    def swap_discard_work(self, type: int) -> int:
        self._swap_do_scheduled_discard(self._device_of(type))
        return 0

    def swap_reclaim_work(self, type: int) -> int:
        self._swap_reclaim_full_clusters(self._device_of(type), force=True)
        return 0

    # ========================================================================================
    # Folios
    # ========================================================================================

    def folio_new(self, folio: int, order: int) -> int:
        self._new_folio_id(folio)
        self.folios[folio] = Folio(folio, self._order(order))
        return 0

    def folio_set(
        self,
        folio: int,
        *,
        locked: bool | None = None,
        writeback: bool | None = None,
        mapped: bool | None = None,
    ) -> int:
        f = self._folio(folio)
        if locked is not None:
            f.locked = bool(locked)
        if writeback is not None:
            f.writeback = bool(writeback)
        if mapped is not None:
            f.mapped = bool(mapped)
        return 0

    def folio_drop(self, folio: int) -> int:
        f = self._folio(folio)
        if f.entry is not None:
            raise SwapContractError("folio-in-swapcache", f"folio {folio} is still in the swap cache")
        del self.folios[folio]
        return 0

    def folio_entry(self, folio: int) -> Entry | None:
        return self._folio(folio).entry

    # ========================================================================================
    # 2.12 queries
    # ========================================================================================

    def swap_count(self, entry: Entry) -> int:
        si, off = self._entry(entry)
        return si.count(off)

    def swap_cache_folio(self, entry: Entry) -> int:
        si, off = self._entry(entry)
        return si.swap_cache.get(off, 0)

    def swap_shadow(self, entry: Entry) -> int:
        si, off = self._entry(entry)
        return si.shadows.get(off, 0)

    def nr_swap_pages(self) -> int:
        return self._nr_swap_pages

    def total_swap_pages(self) -> int:
        return self._total_swap_pages

    def device(self, type: int) -> SwapDevice | None:
        si = self.devices.get(type) if isinstance(type, int) else None
        return None if si is None else _device_record(si)

    def apply(self, ops: Sequence[int], *, digests: str | None = None) -> Any:
        return api.apply(self, ops, digests=digests)

    # ========================================================================================
    # Snapshots
    # ========================================================================================

    def state_digest(self, level: str = "allocator") -> int:
        """`digest.snapshot_digest(self.snapshot(level))`, kept incrementally."""
        if level not in api.SNAPSHOT_LEVELS:
            raise ValueError(f"snapshot level must be one of {api.SNAPSHOT_LEVELS}, not {level!r}")
        return self._digest.value(level)

    def snapshot(self, level: str = "allocator") -> Snapshot:
        if level not in api.SNAPSHOT_LEVELS:
            raise ValueError(f"snapshot level must be one of {api.SNAPSHOT_LEVELS}, not {level!r}")
        data: dict[str, Any] = {
            "level": level,
            "nr_swap_pages": self._nr_swap_pages,
            "total_swap_pages": self._total_swap_pages,
            "pm_suspended_storage": self.pm_suspended,
            "devices": {str(t): self._device_data(si, level) for t, si in sorted(self.devices.items())},
            "slots": {str(t): self._slot_rows(si) for t, si in sorted(self.devices.items())},
            "folios": [
                [
                    f.id,
                    f.order,
                    None if f.entry is None else [f.entry.type, f.entry.offset],
                    f.locked,
                    f.writeback,
                    f.mapped,
                ]
                for _, f in sorted(self.folios.items())
            ],
        }
        if level == "allocator":
            data["percpu"] = [
                None if t is None else [t, off] for t, off in zip(self.percpu_si, self.percpu_offset)
            ]
            data["avail"] = list(self.avail)
        return Snapshot(data)

    def _device_data(self, si: SwapInfo, level: str) -> dict[str, Any]:
        data = api.device_snapshot(_device_record(si))
        if level == "allocator":
            data["clusters"] = [[c.count, CLUSTER_FLAG_NAMES[c.flag], c.order] for c in si.clusters]
            data["lists"] = {
                "free": list(si.free_clusters),
                "nonfull": [list(lst) for lst in si.nonfull_clusters],
                "frag": [list(lst) for lst in si.frag_clusters],
                "full": list(si.full_clusters),
                "discard": list(si.discard_clusters),
            }
            data["hint"] = list(si.global_next)
        return data

    def _slot_rows(self, si: SwapInfo) -> list[list[Any]]:
        rows = []
        for off in sorted(si.bad | si.swap_map.keys() | si.swap_cache.keys()):
            if off in si.bad:
                rows.append([off, SLOT_BAD, 0, 0, 0])
            elif off in si.swap_cache:
                rows.append([off, SLOT_CACHED, si.count(off), si.swap_cache[off], 0])
            else:
                rows.append([off, SLOT_SWAPPED, si.count(off), 0, si.shadows.get(off, 0)])
        return rows

    # ========================================================================================
    # Invariants (semantics 3.2)
    # ========================================================================================

    def check_invariants(self) -> None:
        for si in self.devices.values():
            self._check_device(si)
        self._check_folios()
        self._check_globals()

    def _check_device(self, si: SwapInfo) -> None:
        cs = self.cluster_size
        for off, count in si.swap_map.items():
            _require(
                count > 0 and off not in si.bad, f"type {si.type} slot {off}: count {count} on a bad slot"
            )
        for off in si.shadows:
            _require(
                si.count(off) > 0 and off not in si.swap_cache, f"type {si.type} slot {off}: stray shadow"
            )
        # Count the non-free slots of each cluster from the slots that are not free (bad, counted
        # or cached), not by visiting every slot: the same counts, in time linear in the slots used.
        nonfree = [0] * len(si.clusters)
        used = 0
        for off in si.bad | si.swap_map.keys() | si.swap_cache.keys():
            if 0 <= off < len(si.clusters) * cs:
                nonfree[off // cs] += 1
                used += off not in si.bad
        for ci, cluster in enumerate(si.clusters):
            _require(
                cluster.count == nonfree[ci],
                f"type {si.type} cluster {ci}: count {cluster.count} != {nonfree[ci]}",
            )
            self._check_cluster_list(si, ci, cluster)
        _require(si.inuse == used, f"type {si.type}: inuse {si.inuse} != {used} used slots")
        _require(si.inuse <= si.pages, f"type {si.type}: inuse {si.inuse} > pages {si.pages}")
        _require(
            si.on_avail == (si.type in self.avail), f"type {si.type}: on_avail flag disagrees with the list"
        )
        if si.writeok and si.inuse < si.pages:
            _require(si.on_avail, f"type {si.type}: writable, not full, but off the avail list")
        if not si.writeok:
            _require(not si.on_avail, f"type {si.type}: not writable but on the avail list")
        for order, off in enumerate(si.global_next):
            _require(off % (1 << order) == 0, f"type {si.type}: hint {off} for order {order} misaligned")

    def _check_cluster_list(self, si: SwapInfo, ci: int, cluster: Cluster) -> None:
        cs = self.cluster_size
        where = f"type {si.type} cluster {ci}"
        _require(cluster.flag != CLUSTER_FLAG_NONE, f"{where}: flag NONE between calls")
        lst = self._list_of(si, ci)
        _require(
            lst is not None and lst.count(ci) == 1, f"{where}: not exactly once on its {cluster.flag} list"
        )
        on_lists = sum(
            lst.count(ci)
            for lst in [
                si.free_clusters,
                si.full_clusters,
                si.discard_clusters,
                *si.nonfull_clusters,
                *si.frag_clusters,
            ]
        )
        _require(on_lists == 1, f"{where}: on {on_lists} lists")
        if cluster.flag in (CLUSTER_FLAG_FREE, CLUSTER_FLAG_DISCARD):
            _require(
                cluster.count == 0, f"{where}: {CLUSTER_FLAG_NAMES[cluster.flag]} with count {cluster.count}"
            )
        if cluster.flag == CLUSTER_FLAG_FREE:
            _require(cluster.order == 0, f"{where}: free with order {cluster.order}")
        if cluster.flag == CLUSTER_FLAG_NONFULL:
            _require(cluster.count > 0, f"{where}: nonfull with count 0")
        if cluster.flag == CLUSTER_FLAG_FRAG:
            _require(0 < cluster.count < cs, f"{where}: frag with count {cluster.count}")
        if cluster.flag == CLUSTER_FLAG_FULL:
            _require(cluster.count == cs, f"{where}: full with count {cluster.count}")

    def _check_folios(self) -> None:
        for f in self.folios.values():
            if f.entry is None:
                continue
            si = _present(self.devices.get(f.entry.type), f"folio {f.id}: cached on a device that is gone")
            start = f.entry.offset
            _require(start % f.nr == 0, f"folio {f.id}: entry {start} not aligned to {f.nr}")
            _require(
                start // self.cluster_size == (start + f.nr - 1) // self.cluster_size,
                f"folio {f.id}: range crosses a cluster boundary",
            )
            for off in range(start, start + f.nr):
                _require(si.swap_cache.get(off) == f.id, f"folio {f.id}: slot {off} does not hold it")
        for si in self.devices.values():
            for off, folio in si.swap_cache.items():
                where = f"type {si.type} slot {off}"
                owner = _present(self.folios.get(folio), f"{where}: cached by folio {folio}, not live")
                entry = _present(owner.entry, f"{where}: cached by folio {folio}, not in the swap cache")
                _require(entry.type == si.type, f"{where}: cached by folio {folio} of type {entry.type}")
                _require(
                    entry.offset <= off < entry.offset + owner.nr,
                    f"{where}: outside folio {folio}'s range",
                )

    def _check_globals(self) -> None:
        active = [si for si in self.devices.values() if si.writeok]
        leaving = [si for si in self.devices.values() if si.swapping_off]
        total = sum(si.pages for si in active)
        _require(self._total_swap_pages == total, f"total_swap_pages {self._total_swap_pages} != {total}")
        expect = sum(si.pages - si.inuse for si in active) - sum(si.inuse for si in leaving)
        _require(self._nr_swap_pages == expect, f"nr_swap_pages {self._nr_swap_pages} != {expect}")
        _require(
            sorted(self.active) == sorted(si.type for si in active), "active list disagrees with devices"
        )
        for order, (type, off) in enumerate(zip(self.percpu_si, self.percpu_offset)):
            _require(off % (1 << order) == 0, f"percpu hint {off} for order {order} misaligned")
            if type is not None:
                _require(
                    type in self.devices and self.devices[type].solidstate,
                    f"percpu hint for order {order} names type {type}",
                )


def _device_record(si: SwapInfo) -> SwapDevice:
    """The public record (`SwapImpl.device`) of a device."""
    return SwapDevice(
        type=si.type,
        max=si.max,
        pages=si.pages,
        inuse=si.inuse,
        priority=si.prio,
        writeok=si.writeok,
        on_avail=si.on_avail,
        swapping_off=si.swapping_off,
        solidstate=si.solidstate,
        blkdev=si.blkdev,
        discard=si.discard,
    )


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _present(value: T | None, message: str) -> T:
    """`value`, which an invariant requires to exist."""
    if value is None:
        raise AssertionError(message)
    return value
