"""Conjunction mutants: optimization mistakes that show only when two or more common conditions
meet (issue 26), the yardstick of guided campaigns (`fuzz.corpus`, docs/guided-campaigns.md).

Each is a plausible edit of `optimized/` whose wrong branch needs a conjunction: a large
allocation *and* a nonfull list of two clusters *and* a head cluster without an aligned gap;
a whole-folio dup *and* a later page at 14 *and* no overflow row yet.  They are `Mutant`s like
the catalogue's (`fuzz.mutants.catalogue`), applied the same way (`fuzz.mutants.apply`), but
kept in their own set (`SETS`, run through whole campaigns by `python -m fuzz.mutants.campaigns
--set conjunction`) so the catalogue and `swapdiff mutants` stay as they were.
"""

from __future__ import annotations

from fuzz.mutants.catalogue import Edit, Mutant, _m

K = "kernels.py"
SOURCE = "derived: conjunction (issue 26)"

CONJUNCTION: tuple[Mutant, ...] = (
    _m(
        "nonfull-head-only-large",
        SOURCE,
        """A large allocation tries only the head of its order's nonfull list: when that cluster
        has free slots but no aligned gap, the device's other nonfull clusters of the order are
        skipped for the free list.  Needs order > 0, two nonfull clusters of that order, and a
        head with room but no aligned range.""",
        Edit(
            K,
            """            found = alloc_swap_scan_list(S, t, L_NONFULL + order, row, order, FIRST_ONLY)
            if found:
                return found
""",
            """            found = alloc_swap_scan_list(S, t, L_NONFULL + order, row, order, FIRST_ONLY)
            if found:
                return found
            if order > 0:
                break
""",
        ),
    ),
    _m(
        "dup-overflow-checks-first-page",
        SOURCE,
        """Whether a dup needs the cluster's overflow row is decided from the first page alone,
        so a whole-folio dup whose later page goes 14 -> 15 in a cluster without a row writes
        the count into a row it never allocated.  Needs a large folio dup'ed whole, a later page
        at 14 (the first not), and no overflowed slot in the cluster yet.""",
        Edit(
            K,
            """        need = False
        for k in range(n):""",
            """        need = False
        for k in range(1):""",
        ),
    ),
    _m(
        "dup-fail-ignored-for-folios",
        SOURCE,
        """A failing overflow-row allocation (`alloc_fails`) is honoured for single-slot dups only:
        a whole-folio dup that needs the row goes ahead.  Needs a multi-page dup, a page at 14,
        no overflow row in the cluster, and the allocation set to fail.""",
        Edit(
            K,
            """        if need:
            if alloc_fails:
                return -ENOMEM""",
            """        if need:
            if alloc_fails and n == 1:
                return -ENOMEM""",
        ),
    ),
    _m(
        "overflow-row-released-early",
        SOURCE,
        """The cluster's overflow row is released when its second-to-last overflowed slot drops
        below 15, losing the exact count of the last one.  Needs two slots of one cluster at 15
        or more at once, then a put on one of them.""",
        Edit(
            K,
            """            EXT[row, cs] -= 1
            if EXT[row, cs] == 0:""",
            """            EXT[row, cs] -= 1
            if EXT[row, cs] <= 1:""",
        ),
    ),
    _m(
        "discard-list-while-swapping-off",
        SOURCE,
        """A cluster freed on a page-discard device goes to the discard list even while the
        device is being swapped off (not writable), where no discard work will pick it up.
        Needs a page-discard device, swapoff begun on it, and a whole cluster coming free
        during the unuse.""",
        Edit(
            K,
            "    if G[d + D_WRITEOK] != 0 and G[d + D_DISCARD] == DISCARD_PAGES:",
            "    if G[d + D_DISCARD] == DISCARD_PAGES:",
        ),
    ),
    _m(
        "partial-free-large-not-nonfull",
        SOURCE,
        """A cluster of a large order that loses some (not all) of its slots is left on its
        frag or full list instead of going back to nonfull.  Needs a cluster dedicated to an
        order above 0 and a partial free in it.""",
        Edit(
            K,
            """    if CL[c, C_FLAG] != CLUSTER_FLAG_NONFULL:
        move_cluster(G, CL, d, c, CLUSTER_FLAG_NONFULL)""",
            """    if CL[c, C_FLAG] != CLUSTER_FLAG_NONFULL and CL[c, C_ORDER] == 0:
        move_cluster(G, CL, d, c, CLUSTER_FLAG_NONFULL)""",
        ),
    ),
    _m(
        "direct-put-reclaim-after-batch",
        SOURCE,
        """A direct put over a range forgets that a cached slot dropped to 0 when uncached
        count-1 slots before it were being freed in a batch, so the folio is not reclaimed.
        Needs a multi-slot direct put, an uncached count-1 slot before a cached count-1 one,
        and a folio the reclaim would take (unmapped or swap full, unlocked, no writeback).""",
        Edit(
            K,
            """        if one:
            need_reclaim = True""",
            """        if one and batch < 0:
            need_reclaim = True""",
        ),
    ),
    _m(
        "hint-set-on-filled-cluster",
        SOURCE,
        """The next-offset hint is recorded even when the allocation filled its cluster, so the
        hint points into a full cluster.  Needs an allocation that takes the last free range of
        a cluster while that range is not the cluster's last.""",
        Edit(
            K,
            "            if CL[c, C_COUNT] < cs and off + 2 * nr <= end:",
            "            if off + 2 * nr <= end:",
        ),
    ),
    _m(
        "swapoff-abort-skips-full-device",
        SOURCE,
        """An aborted swapoff puts the device back on the avail list only if it has a free slot;
        the kernel re-inserts it even when full.  Needs a full device, swapoff begun on it, and
        the abort.""",
        Edit(
            K,
            """    # The kernel re-inserts the device even when it is full (semantics 2.10 step 4).
    add_to_avail_list(G, t)""",
            """    if G[d + D_INUSE] < G[d + D_PAGES]:
        add_to_avail_list(G, t)""",
        ),
    ),
    _m(
        "steal-nonfull-before-frag",
        SOURCE,
        """Order-0 stealing scans a higher order's nonfull clusters before its frag clusters.
        Needs an order-0 allocation that reaches stealing (no free cluster, its own lists
        exhausted) while some higher order has clusters on both its frag and nonfull lists.""",
        Edit(
            K,
            """        found = alloc_swap_scan_list(S, t, L_FRAG + o, row, order, SCAN_ALL)
        if found:
            return found
        found = alloc_swap_scan_list(S, t, L_NONFULL + o, row, order, SCAN_ALL)""",
            """        found = alloc_swap_scan_list(S, t, L_NONFULL + o, row, order, SCAN_ALL)
        if found:
            return found
        found = alloc_swap_scan_list(S, t, L_FRAG + o, row, order, SCAN_ALL)""",
        ),
    ),
)

SETS: dict[str, tuple[Mutant, ...]] = {"conjunction": CONJUNCTION}
