"""The catalogue of kernel mutants: real swap bugs put back into Linux 7.3.4 as small patches.

Each entry names its patch (a file beside this module, against a 7.3.4 tree, `patch -p1`), where
the bug comes from (a commit with its Fixes: tag, or the review thread that caught it), what it
breaks, which observable of the kernel lane should show it, and the lane options that drive that
path.  `swapdiff kernel mutants --tree LINUX_SRC` builds each into the tree, boots it and runs
the lane (fuzz/kernel/mutation.py).  The patches are swapdiff's own, written from the facts of
each bug (../shared/kernel/swap-semantics.md section 4 holds the sources); `expect` says whether
the lane can see the bug and, where it cannot, what would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The lane's swap devices live on the guest's scratch disk, which QEMU presents as rotational:
# the kernel then allocates from the device's global cluster and never from the per-CPU one.
# Bugs of the per-CPU path need the disk (and so the lane's swap file and loop devices on it)
# marked non-rotational; the lane reads the flag and the model follows it.
SOLID_STATE = "echo 0 > /sys/block/vda/queue/rotational"
# One set of lane options for the whole catalogue, so one stock run is the baseline of all
# (a guest run costs minutes under TCG, most of it the guest's Python start over 9p): large
# folios of 64K, a quarter of the actions on hibernation slots, the disk non-rotational.
LANE = ("--mthp", "64K", "--hibernation-share", "0.25")


@dataclass(frozen=True)
class KernelMutant:
    """One bug of the catalogue."""

    name: str
    source: str  # the commit (with its Fixes: tag) or review thread the bug comes from
    bug: str  # what the kernel did wrong
    observable: str  # what the lane should see
    lane: tuple[str, ...] = LANE  # `swapdiff kernel` options for its runs
    guest_setup: str | None = SOLID_STATE  # a shell command the guest runs before the lane
    expect: str = "caught"  # or why the lane cannot see it and what would

    @property
    def patch(self) -> Path:
        return HERE / f"{self.name}.patch"


CATALOGUE: tuple[KernelMutant, ...] = (
    KernelMutant(
        "hib-double-dec",
        "f5e31a196edc 'mm: swap: remove duplicate nr_swap_pages decrement in "
        "get_swap_page_of_type()' (Fixes 4f78252da887); found in review of '[PATCH 14/19] mm, "
        "swap: sanitize swap entry management workflow', linux-mm 2025-11-01",
        "swap_alloc_hibernation_slot lowers nr_swap_pages a second time after the cluster "
        "allocator already did",
        "SwapFree one page below the model per hibernation slot taken, never given back",
    ),
    KernelMutant(
        "hib-free-last-slot",
        "mm-swap-cleanup-swap-entry-management-workflow-fix (mm-commits 2025-11, folded into "
        "phase II patch 14 before merge): v1 of free_all_swap_pages looped with < ext->end",
        "freeing the hibernation slots (SNAPSHOT_FREE_SWAP_PAGES, close) leaks the last slot "
        "of every extent: it keeps count 1 and swapoff can never finish",
        "/proc/swaps Used and SwapFree after hib_free or hib_close (then the lane's teardown "
        "hangs in swapoff; the trace is written before it)",
    ),
    KernelMutant(
        "hib-alloc-slow-path",
        "'mm, swap: speed up hibernation allocation and writeout' (Kairui Song, 2026-02, "
        "Fixes 0ff67f990bd4, stable): before it every hibernation allocation took the slow path",
        "hibernation slots ignore the per-CPU cluster and take a new or non-full cluster each "
        "time, so consecutive slots scatter",
        "the offset SNAPSHOT_ALLOC_SWAP_PAGE returns, against the model's (per-CPU cluster first)",
    ),
    KernelMutant(
        "write-fault-keeps-slot",
        "Linux 7.0-7.2: swap table phase II 'mm, swap: free the swap cache after folio is "
        "mapped' checks FAULT_FLAG_WRITE after the exclusive branch of do_swap_page cleared it; "
        "7.3 passes `exclusive` instead (docs/kernel-releases.md, rule write_fault_frees_exclusive)",
        "a write fault on an exclusive swapped-out page keeps its now unused slot in the swap "
        "cache instead of freeing it",
        "/proc/swaps Used, SwapFree and SwapCached after the first write fault on a swapped page",
    ),
    KernelMutant(
        "mthp-fallback-order",
        "'mm: add per-order mTHP anon_swpout and anon_swpout_fallback counters' (Barry Song, "
        "2024-04): the fallback is counted against the order saved before split_folio_to_list",
        "the per-size swpout_fallback counter is charged to folio_order() after the split, "
        "which is 0, so the large size's counter never moves",
        "hugepages-64kB/stats/swpout_fallback against the model's count of large folios that "
        "fell back to order 0",
    ),
    KernelMutant(
        "hib-skip-usable-check",
        "swap table phase II v1 -> v2 changelog 'Fix cluster usable check in allocator' "
        "(YoungJun Park; cover letter '[PATCH v5 00/19] mm, swap: swap table phase II', "
        "2025-12-20)",
        "the hibernation fast path allocates from the per-CPU cluster without checking that it "
        "is still usable for order 0 (full, or freed and taken by a large order since)",
        "a hibernation slot's offset inside a large-order cluster, where the model moves on to "
        "another cluster",
        expect="caught only when the per-CPU order-0 cluster empties and a 64K folio takes "
        "it before the next hibernation slot: on the model, 5 of seeds 0-39 within 600 steps "
        "(seed 13 at step 101), none of seed 19's first 150",
    ),
    KernelMutant(
        "hib-free-cached-slot",
        "swap table phase III: swap_free_hibernation_slot freed the slot unconditionally; the "
        "newer code leaves a slot a folio caches to be freed when the folio leaves "
        "(../shared/kernel/swap-semantics.md section 4, item 9)",
        "a readahead folio added for a hibernation slot is left pointing at a free slot",
        "a swap cache folio of a free slot (SwapCached, the slot's reuse)",
        expect="missed: only readahead puts a folio on a hibernation slot, and the lane runs "
        "with vm.page-cluster=0 and never reads a slot it does not map; a swap-in with "
        "readahead around a hibernation slot would show it",
    ),
    KernelMutant(
        "dup-bad-slot",
        "swap table phase III 'mm, swap: mark bad slots in swap table directly' (2026): "
        "phase II accepted a bad page listed twice in the swap header",
        "swapon accepts a duplicated bad page and accounts it twice: the device has one page "
        "fewer and its cluster one slot too many in use",
        "swapon's EINVAL, or /proc/swaps Size one page below the model",
        expect="missed: the lane's headers list distinct bad pages (random.sample); a swapon "
        "action whose header repeats a bad page would show it",
    ),
    KernelMutant(
        "bad-slot-past-max",
        "152c1339dc13 'mm: swap: fix potential buffer overflow in setup_clusters()' (Kemeng "
        "Shi, 2025-05, Fixes b843786b0bd0)",
        "a bad page at or past si->max (a header whose last_page exceeds the device) is still "
        "accounted, past the end of cluster_info",
        "/proc/swaps Size, or a crash at swapon",
        expect="missed: the lane's headers describe the whole device, so every bad page is "
        "below si->max; a swapon of a loop device smaller than its header's last_page, with a "
        "bad page in the missing tail, would show it",
    ),
    KernelMutant(
        "default-prio-decreasing",
        "Baoquan He, 'mm/swap: select swap device with default priority round robin' (mm "
        "tree, 2025): before it, each swapon without a priority got the next lower one",
        "devices swapped on without SWAP_FLAG_PREFER get priorities -1, -2, ... and fill one "
        "after another instead of in turn",
        "/proc/swaps Priority of a second default-priority device, and which device gets slots",
        expect="missed: every lane swapon passes a priority (1, 5 or 9); a swapon action "
        "without SWAP_FLAG_PREFER would show it in /proc/swaps at once",
    ),
)


def by_name() -> dict[str, KernelMutant]:
    return {m.name: m for m in CATALOGUE}
