"""The mutant catalogue: real kernel swap bugs and rule breaks, as source edits of `optimized/`.

Each `Mutant` names where the bug comes from (`source`: a kernel commit or mail subject from
section 4 of `kernel/swap-semantics.md`, or "derived: <the rule it breaks>"), says in one
paragraph what goes wrong, and carries its injection: `Edit`s of files of the optimized
package, each an exact snippet (it must occur exactly once) and its replacement.  `profile` is
the world profile the harness runs it with.  A mutant that no sequential harness can tell
apart from the real code has `equivalent` set to the reason, and does not count in the score.

The order is the report order: bug catalogue entries first (#1 first), then derived rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """Replace `snippet` (exactly once) by `replacement` in `file` (relative to optimized/)."""

    file: str
    snippet: str
    replacement: str


@dataclass(frozen=True)
class Mutant:
    name: str
    source: str
    description: str
    edits: tuple[Edit, ...]
    profile: str = "default"
    equivalent: str | None = None


def select(names: Iterable[str] | None = None) -> list[Mutant]:
    """The catalogue entries with these names, in catalogue order (all when None).

    Raises KeyError naming the first unknown name.
    """
    if names is None:
        return list(CATALOGUE)
    wanted = list(names)
    known = {m.name for m in CATALOGUE}
    for name in wanted:
        if name not in known:
            raise KeyError(name)
    return [m for m in CATALOGUE if m.name in wanted]


def _m(name: str, source: str, description: str, *edits: Edit, **kw: str) -> Mutant:
    return Mutant(name, source, " ".join(description.split()), tuple(edits), **kw)


# Section 4 bugs with no mutant here, and why (printed by `swapdiff mutants --list`).
NOT_APPLICABLE: tuple[tuple[str, str], ...] = (
    ("#5", "free_all_swap_pages (bulk hibernation free over extents) is not part of the API"),
    ("#6", "a self-deadlock on the cluster lock: no state difference without lock modelling"),
    ("#8", "extend_table kept after teardown: memory only; its observable twin is overflow-not-released"),
    ("#10", "all-zero extend_table kept after a fork retry: metadata only (see overflow-not-released)"),
    ("#14", "stale index on a reclaim retry: needs a concurrent swap-cache removal (race only)"),
    ("#18", "-EAGAIN for large folios without THP_SWAP: THP swap is always on in the model"),
    ("#20", "sleeping table allocation failure: table allocation is not an injectable fault here"),
)

K = "kernels.py"
F = "swap.py"  # the facade: what a user calls; a batch apply() never runs it

CATALOGUE: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------------------------------
    # Bug catalogue, semantics section 4
    # ---------------------------------------------------------------------------------------
    _m(
        "hib-double-nr-decrement",
        "#1 f5e31a196edc mm: swap: remove duplicate nr_swap_pages decrement in get_swap_page_of_type()",
        """Hibernation slot allocation lowered nr_swap_pages a second time after the allocator
        had already accounted the slot (swap_range_alloc), so after k hibernation allocations
        nr_swap_pages is k below the sum of free pages, never recovers on free, and
        vm_swap_full() turns true early.""",
        Edit(
            K,
            "    return (t << ENTRY_SHIFT) | found if found else 0\n",
            "    if found:\n        G[G_NR] -= 1\n    return (t << ENTRY_SHIFT) | found if found else 0\n",
        ),
        profile="hibernate",
    ),
    _m(
        "charge-fail-free-without-dec",
        "#2 4f78252da887 mm: swap: move nr_swap_pages counter decrement from folio_alloc_swap() to "
        "swap_range_alloc()",
        """When the memcg charge failed after the slots were allocated, the slots were released
        with +nr although the -nr had not been applied yet (it came only after a successful
        charge): every failed folio_alloc_swap raises nr_swap_pages by the folio size.""",
        Edit(
            K,
            "    if charge_fails:",
            "    if charge_fails:\n        G[G_NR] += 1 << order\n    if charge_fails:",
        ),
    ),
    _m(
        "padding-not-counted",
        "#3 255116c5b0fa mm: swap: correctly use maxpages in swapon syscall to avoid potential deadloop",
        """Cluster accounting at swapon ignored the slots between max and the end of the last
        cluster: the padding is not marked BAD nor counted in cluster.count, so the last
        cluster looks emptier than it is and the allocator can hand out offsets >= max.""",
        Edit(
            K,
            "    for off in range(size, ncl * cs):\n        mark_bad(G, SL, BM, CL, cb, off)\n",
            "",
        ),
    ),
    _m(
        "bad-page-past-max",
        "#4 152c1339dc13 mm: swap: fix potential buffer overflow in setup_clusters()",
        """A bad page at or beyond max was not rejected and was accounted into the cluster
        information past the device's end (here: into the padding of the last cluster or a
        cluster beyond it), corrupting cluster.count; the fixed rule refuses it.""",
        Edit(
            K,
            "if b <= 0 or b >= size:",
            "if b <= 0 or b >= ((size + G[G_CS] - 1) >> G[G_SHIFT]) << G[G_SHIFT]:",
        ),
        profile="swapoff",
    ),
    _m(
        "bad-slot-is-swapped",
        "#7 mm, swap: swap entry of a bad slot should not be considered as swapped out",
        """swap_entry_swapped() counted a BAD slot (header or bad page) as swapped, so readahead
        (swap_cache_alloc_folio) added a folio to the swap cache for it instead of returning
        NULL.""",
        Edit(
            K,
            "if w & TAG_MASK == TAG_BAD or (w & COUNT_BITS) == 0:",
            "if w & TAG_MASK != TAG_BAD and (w & COUNT_BITS) == 0:",
        ),
    ),
    _m(
        "hib-free-unconditional",
        "#9 swap_free_hibernation_slot freed the slot unconditionally after the decrement (P3 HEAD)",
        """Freeing a hibernation slot freed it even when a readahead folio had added it to the
        swap cache meanwhile: the slot becomes FREE while a folio still caches it, instead of
        staying CACHED with count 0 until the folio leaves the cache.""",
        Edit(
            K,
            "    if SL[G[dev(t) + D_CBASE] * G[G_CS] + off] & TAG_MASK != TAG_CACHED:\n",
            "    if True:\n",
        ),
        profile="hibernate",
    ),
    _m(
        "no-sync-discard-retry",
        "#11 mm, swap: do not perform synchronous discard during allocation",
        """The fix moved the discard out of the allocator into swap_sync_discard() plus a retry
        of order-0 allocations; dropping the retry gives a spurious -ENOMEM when every free
        cluster of a page-discard device sits on the discard list.""",
        Edit(
            K,
            "        if FO[row, F_TYPE] >= 0 or order > 0 or not swap_sync_discard(S):\n",
            "        if True:\n",
        ),
        profile="kbuild",
    ),
    _m(
        "hib-always-slow-path",
        "#12 mm, swap: speed up hibernation allocation and writeout",
        """Hibernation allocation always took the per-device slow path instead of first trying
        the per-CPU cluster hint, rotating clusters and scattering the image's offsets.""",
        Edit(K, "    if G[G_PCPU] == t and G[G_PCPU + 1] != 0:\n", "    if False:\n"),
        profile="hibernate",
    ),
    _m(
        "reclaim-wrong-offset",
        "#13 13efc25a93c4 mm, swap: fix reclaim offset calculation error during allocation",
        """The reclaim pass over a candidate range used a wrong offset: it tried to reclaim the
        range's first slot over and over instead of each slot in turn, so the range is
        rechecked with a cached slot still in it.""",
        Edit(
            K,
            "try_to_reclaim_swap(S, t, off + k, TTRS_ANYWAY) < 0:",
            "try_to_reclaim_swap(S, t, off, TTRS_ANYWAY) < 0:",
        ),
        profile="usemem",
    ),
    _m(
        "alloc-ignores-writeok",
        "#15 mm, swap: fix allocation and scanning race with swapoff",
        """The allocator did not check SWP_WRITEOK after locking a cluster, so a per-CPU hint
        left pointing into a device being swapped off hands out its slots.""",
        Edit(K, "            if G[d + D_WRITEOK] == 0:\n                break\n", ""),
        profile="swapoff",
    ),
    _m(
        "entry-range-unchecked",
        "#16 82b1c07a0af6 mm: swap: fix race between free_swap_and_cache() and swapoff()",
        """Entry validation (get_swap_device) skipped the offset check, so an offset at or
        beyond max is accepted (here: it reads padding or the next device's slots) instead of
        being refused.""",
        Edit(K, "    if off < 0 or off >= G[dev(t) + D_MAX]:\n", "    if off < 0:\n"),
    ),
    _m(
        "default-prio-decreasing",
        "#17 mm/swap: select swap device with default priority round robin (Baoquan He)",
        """Before the fix, devices swapped on without a priority got -1, -2, ... in swapon
        order, so default devices filled one after another instead of sharing the default
        priority -1 and rotating.""",
        Edit(
            K,
            "    else:\n        prio = -1\n",
            "    else:\n"
            "        prio = -1\n"
            "        for u in range(G[G_MAXSW]):\n"
            "            if G[dev(u) + D_STATE] != 0:\n"
            "                prio -= 1\n",
        ),
    ),
    _m(
        "duplicate-bad-page",
        "#19 mm, swap: mark bad slots in swap table directly (P2 accepted duplicate bad pages)",
        """Phase II accepted a duplicate entry in the bad-page list: pages was lowered twice and
        cluster.count raised twice for one BAD slot, so the device reads full with a free slot
        left and the cluster never becomes empty; phase III returns -EINVAL.""",
        Edit(K, "if bad[i] == bad[j]:", "if bad[i] == bad[j] and False:"),
        profile="swapoff",
    ),
    _m(
        "ssd-uses-global-hint",
        "#21 mm, swap: move setup_swap_clusters_info() after SWP_SOLIDSTATE initialization",
        """Cluster setup ran before SOLIDSTATE was known, so every device got a global_cluster;
        a solid-state device that then keeps its next offset in the per-device hint instead of
        the per-CPU one allocates from different offsets.""",
        Edit(
            K,
            "    if G[d + D_SOLID] != 0:\n        G[G_PCPU + 2 * order] = t\n",
            "    if False:\n        G[G_PCPU + 2 * order] = t\n",
        ),
        Edit(
            K,
            "    if G[d + D_SOLID] == 0 and G[d + D_HINT + order] != 0:\n",
            "    if G[d + D_HINT + order] != 0:\n",
        ),
    ),
    _m(
        "hint-skips-usable-check",
        "#22 phase II v2 changelog: Fix cluster usable check in allocator [YoungJun Park]",
        """The fast path and hibernation path scanned the cluster named by the per-CPU hint
        without checking cluster_is_usable(): a cluster that was freed, filled, put on the
        discard list or dedicated to another order meanwhile is allocated from.""",
        Edit(K, "    if not cluster_is_usable(CL, c, order):\n        return 0\n    start =", "    start ="),
        profile="mthp",
    ),
    # ---------------------------------------------------------------------------------------
    # Derived from the rules (semantics section 4, "Suggested extra mutants")
    # ---------------------------------------------------------------------------------------
    _m(
        "large-folio-unaligned",
        "derived: large-folio ranges are naturally aligned (2.0.6)",
        """After an allocation the next offset hint advances by one slot instead of by the
        folio size, so the next scan of the cluster starts unaligned and can give a large
        folio a range that is not aligned to its size.""",
        Edit(K, "                next_off = off + nr\n", "                next_off = off + 1\n"),
        profile="mthp",
    ),
    _m(
        "swapin-unaligned",
        "derived: a large swap-in covers the aligned range holding the entry (2.5)",
        """swapin_folio used the faulting entry as the start of the folio's range instead of
        rounding it down to the folio size: the folio caches an unaligned range that may cross
        into the next cluster.""",
        Edit(K, "    start = off - off % nr\n", "    start = off\n"),
        profile="mthp",
    ),
    _m(
        "hint-crosses-cluster",
        "derived: the per-CPU hint stays inside its cluster (2.0.6 step 4)",
        """The next-offset hint is stored even when the next range would not fit in the
        cluster, so it points at the first slot of the following cluster, which the fast
        path then scans without taking it off its list.""",
        Edit(
            K,
            "            if CL[c, C_COUNT] < cs and off + 2 * nr <= end:\n",
            "            if CL[c, C_COUNT] < cs and off + nr <= end:\n",
        ),
        profile="mthp",
    ),
    _m(
        "put-frees-cached-zero",
        "derived: folio_put_swap leaves a cached slot at count 0 cached (2.2)",
        """folio_put_swap freed a slot whose count reached 0 although the folio still caches
        it; the slot must stay CACHED with count 0 until the folio leaves the swap cache.""",
        Edit(
            K,
            "swap_put(S, t, off + k)",
            "swap_put(S, t, off + k)\n"
            "        if (SL[s0 + k] & COUNT_BITS) == 0:\n"
            "            swap_entries_free(S, t, off + k, 1)",
        ),
    ),
    _m(
        "put-direct-frees-cached-one",
        "derived: swap_put_entries_direct frees only uncached count-1 slots (2.6)",
        """The zap path put a cached slot with count 1 into the batch of slots to free, freeing
        it under its swap-cache folio instead of dropping the count to 0 and trying to reclaim
        the folio.""",
        Edit(K, "        if one and not cached:\n", "        if one:\n"),
    ),
    _m(
        "cache-del-loses-count",
        "derived: removing a folio from the swap cache keeps each slot's count (2.4)",
        """__swap_cache_del_folio rebuilt the slot word for the shadow from scratch and kept
        only 'referenced', so a shared slot (count >= 2) comes back with count 1.""",
        Edit(
            K,
            "            SL[s0 + k] = (payload << PAYLOAD_SHIFT) | cbits | TAG_SWAPPED\n",
            "            SL[s0 + k] = (payload << PAYLOAD_SHIFT) | (1 << COUNT_SHIFT) | TAG_SWAPPED\n",
        ),
        profile="fork",
    ),
    _m(
        "large-folio-second-device",
        "derived: a large folio never falls back to another device (2.1 step 3)",
        """The slow path went on to the next device of the avail list after a large folio failed
        on the first one; the kernel gives up so the caller splits the folio.""",
        Edit(
            K,
            "        if order > 0:  # large folios never fall back to another device\n            return\n",
            "",
        ),
        profile="mthp",
    ),
    _m(
        "no-avail-rotation",
        "derived: the slow path requeues a device at the tail of its priority (plist_requeue)",
        """The slow path tried devices without moving each to the tail of its priority group,
        so equal-priority devices stop taking turns (no round robin).""",
        Edit(
            K,
            "        plist_del(G, t, G_AVHEAD, G_AVTAIL, D_AVNEXT, D_AVPREV)  # plist_requeue\n"
            "        plist_add(G, t, G_AVHEAD, G_AVTAIL, D_AVNEXT, D_AVPREV)\n",
            "",
        ),
    ),
    _m(
        "cluster-list-head-insert",
        "derived: a relocated cluster goes to the tail of its list (list_move_tail, 2.0.4)",
        """Moving a cluster to a list inserted it at the head instead of the tail, so the
        allocator picks the most recently relocated cluster first.""",
        Edit(
            K,
            "        list_append(G, CL, d, c, lid)\n",
            "        first = G[d + D_LHEAD + lid]\n"
            "        CL[c, C_PREV] = -1\n"
            "        CL[c, C_NEXT] = first\n"
            "        if first >= 0:\n"
            "            CL[first, C_PREV] = c\n"
            "        else:\n"
            "            G[d + D_LTAIL + lid] = c\n"
            "        G[d + D_LHEAD + lid] = c\n",
        ),
    ),
    _m(
        "scan-reclaim-ungated",
        "derived: the scan reclaims cached count-0 slots only when vm_swap_full() (2.0.6)",
        """The cluster scan treated a cached slot with count 0 as reclaimable even while swap
        is not full, dropping clean swap-cache folios that should have stayed.""",
        Edit(
            K,
            "            if not vm_swap_full(G):\n                # Only FREE",
            "            if False:\n                # Only FREE",
        ),
    ),
    _m(
        "zap-reclaim-ungated",
        "derived: TTRS_FULL reclaims only when vm_swap_full() (2.6.2)",
        """try-reclaim with TTRS_FULL (the zap path) ignored the vm_swap_full() condition, so a
        mapped cached folio is dropped from the swap cache while swap is far from full.""",
        Edit(
            K,
            "        or ((flags & TTRS_FULL) != 0 and vm_swap_full(G))\n",
            "        or (flags & TTRS_FULL) != 0\n",
        ),
        profile="kbuild",
    ),
    _m(
        "order-not-reset-on-free",
        "derived: a freed cluster forgets its order (__free_cluster, 2.0.4)",
        """A cluster returned to the free list kept cluster.order, so the next user of the
        cluster is checked against (and listed under) a stale order.""",
        Edit(
            K,
            "    move_cluster(G, CL, d, c, CLUSTER_FLAG_FREE)\n    CL[c, C_ORDER] = 0\n",
            "    move_cluster(G, CL, d, c, CLUSTER_FLAG_FREE)\n",
        ),
        profile="swapoff",
    ),
    _m(
        "first-fit-not-hint",
        "derived: a scan from the hint starts at the hint offset (2.0.6)",
        """The fast path scanned its cluster from the first slot (first fit) instead of from the
        hinted next offset, reusing slots freed behind the hint.""",
        Edit(
            K,
            "    start = ((off >> shift) << shift) if CL[c, C_COUNT] == 0 else off\n",
            "    start = (off >> shift) << shift\n",
        ),
    ),
    _m(
        "hint-kept-after-failed-scan",
        "derived: a failed scan clears the hint (next = 0, 2.0.6 step 4)",
        """A scan that found nothing left the previous hint in place instead of clearing it, so
        the fast path keeps returning to an exhausted cluster.""",
        Edit(K, "    found = 0\n    next_off = 0\n", "    found = 0\n    next_off = start\n"),
    ),
    _m(
        "overflow-boundary-13",
        "derived: overflow storage is needed on the 14 -> 15 step (DESIGN decision 3)",
        """The dup checked for the overflow step one count too early (13 -> 14): storage is
        allocated (or the dup fails with alloc_fails) a step before the inline count runs
        out.""",
        Edit(
            K,
            "            if (SL[s0 + k] >> COUNT_SHIFT) & 15 == COUNT_MAX - 1:\n",
            "            if (SL[s0 + k] >> COUNT_SHIFT) & 15 == COUNT_MAX - 2:\n",
        ),
        profile="fork",
    ),
    _m(
        "overflow-not-released",
        "derived: overflow storage is released when no slot of the cluster is >= 15 (#8, #10)",
        """The cluster's overflow row was never released after its last overflowed count fell
        back below 15 (like the extend_table leaks of bugs #8/#10); a later 14 -> 15 dup then
        needs no allocation and succeeds where an allocation failure must fail it.""",
        Edit(K, "            if EXT[row, cs] == 0:\n", "            if False:\n"),
        profile="fork",
    ),
    # ---------------------------------------------------------------------------------------
    # Rare states (issue 14): optimization mistakes that need a state the generators once
    # rarely reached: packed-field boundaries, the per-CPU hint across devices, sync discard
    # among equal-priority discard devices, large ranges over BAD slots
    # ---------------------------------------------------------------------------------------
    _m(
        "shadow-inline-at-big-limit",
        "derived: a shadow >= 2**56 escapes to side storage (packed payload, 2.4)",
        """The escape test of the shadow payload was written with > instead of >=, so a shadow
        of exactly SHADOW_BIG is stored inline, where its payload reads as the flag "index 0
        of the big-shadow table": the slot reports whatever that cell holds.""",
        Edit(K, "    if shadow >= SHADOW_BIG:\n", "    if shadow > SHADOW_BIG:\n"),
    ),
    _m(
        "big-compaction-skips-first-cell",
        "derived: compacting the big-shadow table keeps every live cell (packed payload, 2.4)",
        """When the big-shadow table is full, growth keeps only the cells some SWAPPED slot
        still names and renumbers them; the holder test used > SHADOW_BIG, so the slot naming
        cell 0 is not renumbered and afterwards reads another slot's shadow.""",
        Edit("state.py", "& (payload >= k.SHADOW_BIG))", "& (payload > k.SHADOW_BIG))"),
    ),
    _m(
        "pcpu-hint-kept-on-failed-scan",
        "derived: every cluster scan of an SSD records the per-CPU hint, also a failed one (2.0.6)",
        """The per-CPU hint was stored only when the scan found a range (an 'avoid the store'
        shortcut), so after a failed scan the hint still names the previous device and offset
        instead of (this device, none), and the next allocation starts there.""",
        Edit(
            K,
            "    if G[d + D_SOLID] != 0:\n        G[G_PCPU + 2 * order] = t\n",
            "    if G[d + D_SOLID] != 0 and found:\n        G[G_PCPU + 2 * order] = t\n",
        ),
    ),
    _m(
        "pcpu-zero-offset-used",
        "derived: a per-CPU hint with offset 0 means none (swap_alloc_fast, 2.1 step 1)",
        """The fast path took any recorded device as a hint and ignored that its offset is 0
        (what a failed or exhausted scan leaves), so it scans that device's first cluster
        instead of going to the slow path, which may pick another device.""",
        Edit(
            K,
            "        if t >= 0 and off != 0:  # the per-CPU fast path\n",
            "        if t >= 0:  # the per-CPU fast path\n",
        ),
        profile="kbuild",
    ),
    _m(
        "sync-discard-walks-avail-list",
        "derived: swap_sync_discard walks swap_active_head, not the rotated avail list (#11)",
        """The synchronous discard walked the avail list (which the slow path rotates and from
        which full devices are gone) instead of the active list, so with several equal-priority
        page-discard devices it discards a different device's pending clusters.""",
        Edit(
            K,
            "    t = G[G_ACHEAD]\n    while t >= 0:\n        d = dev(t)\n        if G[d + D_DISCARD]",
            "    t = G[G_AVHEAD]\n    while t >= 0:\n        d = dev(t)\n        if G[d + D_DISCARD]",
        ),
        Edit(
            K,
            "        t = G[d + D_ACNEXT]\n    return False\n",
            "        t = G[d + D_AVNEXT]\n    return False\n",
        ),
        profile="kbuild",
    ),
    _m(
        "sync-discard-all-devices",
        "derived: swap_sync_discard stops after the first device it discarded (#11)",
        """The synchronous discard was 'batched': it ran the discard of every page-discard
        device with pending clusters instead of stopping after the first one that had any, so
        a second device's clusters leave the discard list early.""",
        Edit(
            K,
            "    t = G[G_ACHEAD]\n    while t >= 0:\n        d = dev(t)\n        if G[d + D_DISCARD]",
            "    done = False\n"
            "    t = G[G_ACHEAD]\n    while t >= 0:\n        d = dev(t)\n        if G[d + D_DISCARD]",
        ),
        Edit(
            K,
            "            return swap_do_scheduled_discard(G, CL, t)\n",
            "            done = swap_do_scheduled_discard(G, CL, t) or done\n",
        ),
        Edit(
            K,
            "        t = G[d + D_ACNEXT]\n    return False\n",
            "        t = G[d + D_ACNEXT]\n    return done\n",
        ),
        profile="kbuild",
    ),
    _m(
        "swapin-bad-check-ends-only",
        "derived: a large swap-in refuses a range holding any BAD slot (2.5, misuse)",
        """The BAD-slot check of swapin_folio's range looked only at its first and last slot
        (a 'the header and the padding sit at the ends' shortcut), so a bad page inside a
        large range is not refused with bad-slot: the call returns 0 instead.""",
        Edit(
            K,
            "    for o in range(start, start + nr):\n        if o >= mx",
            "    for o in range(start, start + nr, max(1, nr - 1)):\n        if o >= mx",
        ),
        profile="mthp",
    ),
    _m(
        "swapin-bad-check-from-entry",
        "derived: a large swap-in checks its whole aligned range, not only from the entry (2.5)",
        """The BAD-slot check of swapin_folio started at the faulting entry instead of the start
        of the aligned range, so the header or a bad page below the entry in the same range is
        not refused with bad-slot.""",
        Edit(
            K,
            "    for o in range(start, start + nr):\n        if o >= mx",
            "    for o in range(off, start + nr):\n        if o >= mx",
        ),
        profile="mthp",
    ),
    # ---------------------------------------------------------------------------------------
    # Facade: the Python methods of optimized/swap.py (bugs a batch apply() cannot see)
    # ---------------------------------------------------------------------------------------
    _m(
        "facade-dup-ignores-page",
        "derived: folio_dup_swap(folio, page) duplicates one page's slot (facade, 2.2)",
        """The facade method dropped its `page` argument and asked the kernel to duplicate
        every slot of the folio, so a per-page dup of a large folio raises the count of all its
        pages.  The kernels (and so `apply`) are right: only a method call shows the bug.""",
        Edit(
            F,
            "            -1 if page is None else _int(page, -2),\n            int(bool(alloc_fails)),\n",
            "            -1,\n            int(bool(alloc_fails)),\n",
        ),
        profile="mthp",
    ),
    _m(
        "facade-folio-set-flags-swapped",
        "derived: folio_set passes each flag to its own field (facade)",
        """The facade method passed `mapped` where the kernel expects `writeback` and the other
        way round, so setting one folio flag sets the other.  The kernels (and so `apply`) are
        right: only a method call shows the bug.""",
        Edit(
            F,
            "_opt_bool(locked), _opt_bool(writeback), _opt_bool(mapped)\n",
            "_opt_bool(locked), _opt_bool(mapped), _opt_bool(writeback)\n",
        ),
    ),
)
