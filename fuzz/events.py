"""Semantic coverage: labels for the allocator transitions a call made.

Labels are computed from the reference's allocator snapshots before and after one call, so
they do not depend on any implementation's internals: cluster list moves (free -> frag ->
full -> nonfull, to and from discard), order stealing, counts crossing into and out of
overflow storage, reclaim inside the allocator's scan, synchronous discard, device rotation,
large-folio fallback, devices filling up, hibernation and swapoff.  The machine reports them
with `hypothesis.event()` and campaigns count them.
"""

from __future__ import annotations

from typing import Any

from fuzz.boundaries import BIG_CELLS, EXT_ROWS, FAR_COUNT, FOLIO_ROWS
from optimized.kernels import SHADOW_BIG as _SHADOW_BIG
from reference.api import (
    EBUSY,
    ENOMEM,
    ENTRY_SHIFT,
    SWAP_COUNT_OVERFLOW,
    VALUE_LIMIT,
    Call,
    Snapshot,
    contract_error_result,
)

# The labels a healthy ci run must reach (tests/fuzz checks every one is hit).
ALLOCATOR_LABELS: tuple[str, ...] = (
    "cluster free->frag",
    "cluster frag->full",
    "cluster full->nonfull",
    "cluster nonfull->frag",
    "cluster ->discard",
    "cluster discard->free",
    "order stealing",
    "overflow 14->15",
    "overflow 15->14",
    "reclaim in scan",
    "sync discard",
    "device rotation",
    "large folio fallback",
    "device full",
    "device off avail",
    "hibernation alloc",
    "hibernation free",
    "swapoff done",
    "swapoff abort",
)

# The rare states of issue 14: what the once-escaping optimization bugs needed.  Campaigns
# report each one's count and list those never reached; Hypothesis mode steers toward them
# (fuzz.modes.machine: target()), and campaign fast mode keeps the seeds that reach them.
RARE_LABELS: tuple[str, ...] = (
    # The per-CPU hint named device A (offset set: its scan was tried and failed; offset 0:
    # a failed or exhausted scan left it) and the allocation came from device B.
    "pcpu switch after failed scan",
    "pcpu switch from empty hint",
    # An allocation failed after a scan had a hint: the failed scan reset it.
    "pcpu hint reset by failed scan",
    # The synchronous discard ran with two or more page-discard devices of one priority
    # holding discard-pending clusters, and (second label) it discarded a device other than
    # the first of them on the avail list (the slow path had rotated the list).
    "sync discard, 2+ pending of one priority",
    "sync discard, avail rotated",
    # swapin_folio of a large range holding a BAD slot at an entry that is not BAD: the BAD
    # slot below the entry, or strictly inside the range (not at one of its ends).
    "large swapin, BAD below entry",
    "large swapin, BAD inside range",
    "readahead over BAD",
    # Packed payload: a shadow at, just below and above the inline limit, and the side
    # table (BIG) holding more shadows than its first size.
    "shadow at escape limit",
    "shadow below escape limit",
    "shadow escape stored",
    "big shadows past table size",
    # Packed count: past the inline field (15 -> 16), far beyond it, and more clusters with
    # overflowed slots than the overflow table's first size.
    "count 15->16",
    "count far beyond",
    "overflow rows past table size",
    # Folio ids at the contract's largest id, and more live folios than the first table.
    "folio id at limit",
    "folio rows past table size",
)

SHADOW_BIG = int(_SHADOW_BIG)  # the packed payload's escape limit, as a Python int
_ALLOCATING = frozenset({"folio_alloc_swap", "swap_alloc_hibernation_slot"})
_COUNTING = frozenset(
    {
        "folio_dup_swap",
        "folio_put_swap",
        "swap_dup_entry_direct",
        "swap_put_entries_direct",
        "swap_free_hibernation_slot",
    }
)
_ENTRY_MASK = (1 << ENTRY_SHIFT) - 1


def _data(snap: Snapshot | dict) -> dict[str, Any]:
    return snap.data if isinstance(snap, Snapshot) else snap


def labels_for(
    call: Call,
    result: int | None,
    before: Snapshot | dict,
    after: Snapshot | dict,
    *,
    cluster_size: int | None = None,
) -> list[str]:
    """The labels of the transitions `call` (with encoded `result`) made from `before` to
    `after` (reference snapshots, allocator level for the cluster labels)."""
    b, a = _data(before), _data(after)
    labels: list[str] = []
    _cluster_moves(b, a, labels)
    _device_moves(b, a, labels)
    name = call.name
    if name in _ALLOCATING:
        _allocation(call, result, b, a, cluster_size, labels)
    if name == "folio_alloc_swap" and not call.kwargs.get("charge_fails"):
        _percpu(call, result, b, a, labels)
    if name in _COUNTING:
        _overflow(b, a, labels, cluster_size)
    if name in ("swapin_folio", "swap_cache_alloc_folio"):
        _over_bad(call, b, labels)
    if name == "swap_cache_del_folio" and result == 0:
        _shadow(call, a, labels)
    if name in _NEW_FOLIO and result is not None and result >= 0:
        if call.kwargs.get("folio") == VALUE_LIMIT - 1 and _live(a, VALUE_LIMIT - 1):
            labels.append("folio id at limit")
        if len(a.get("folios", ())) > FOLIO_ROWS >= len(b.get("folios", ())):
            labels.append("folio rows past table size")
    reclaimers = ("swap_put_entries_direct", "swap_reclaim_work", "swap_free_hibernation_slot")
    if name in reclaimers and _dropped_folios(b, a, exclude=None):
        labels.append(f"reclaim by {name}")
    if name in ("folio_dup_swap", "swap_dup_entry_direct") and result == -ENOMEM:
        labels.append("dup overflow allocation failed")
    if name == "swap_free_hibernation_slot" and result == 0:
        labels.append("hibernation free")
    if name == "swapoff_end" and result in (0, -EBUSY):
        labels.append("swapoff done" if result == 0 else "swapoff busy")
    if name == "swapoff_abort" and result == 0:
        labels.append("swapoff abort")
    return labels


def _cluster_moves(b: dict, a: dict, labels: list[str]) -> None:
    for type, dev in a.get("devices", {}).items():
        old = b.get("devices", {}).get(type)
        if old is None or "clusters" not in dev or old.get("clusters") == dev["clusters"]:
            continue
        for (_, flag_b, _), (_, flag_a, _) in zip(old["clusters"], dev["clusters"]):
            if flag_b != flag_a:
                labels.append(f"cluster {flag_b}->{flag_a}")
                if flag_a == "discard":
                    labels.append("cluster ->discard")


def _device_moves(b: dict, a: dict, labels: list[str]) -> None:
    old_avail, new_avail = b.get("avail"), a.get("avail")
    if old_avail is not None and new_avail is not None and old_avail != new_avail:
        kept = [t for t in old_avail if t in new_avail]
        if [t for t in new_avail if t in kept] != kept:
            labels.append("device rotation")
        devices = a.get("devices", {})
        if any(t not in new_avail and str(t) in devices and devices[str(t)]["writeok"] for t in old_avail):
            labels.append("device off avail")
    for type, dev in a.get("devices", {}).items():
        old = b.get("devices", {}).get(type)
        if old is not None and dev["inuse"] == dev["pages"] and old["inuse"] < old["pages"]:
            labels.append("device full")


def _allocation(
    call: Call, result: int | None, b: dict, a: dict, cluster_size: int | None, labels: list[str]
) -> None:
    if call.name == "folio_alloc_swap":
        folio = call.kwargs.get("folio")
        row = next((r for r in a.get("folios", []) if r[0] == folio), None)
        order = row[1] if row else 0
        if call.kwargs.get("charge_fails"):
            labels.append("charge failure")
        elif result == -ENOMEM:
            labels.append("large folio fallback" if order > 0 else "order-0 allocation failed")
        elif result == 0 and row and row[2] is not None and order == 0:
            _stealing(a, row[2][0], row[2][1], cluster_size, labels)
        dropped = _dropped_folios(b, a, exclude=folio)
    else:
        if result:
            labels.append("hibernation alloc")
            _stealing(a, result >> ENTRY_SHIFT, result & _ENTRY_MASK, cluster_size, labels)
        else:
            labels.append("hibernation alloc failed")
        dropped = _dropped_folios(b, a, exclude=None)
    if dropped:
        labels.append("reclaim in scan")
    if _discard_emptied(b, a):
        labels.append("sync discard")
        _sync_discard_peers(b, a, labels)


def _sync_discard_peers(b: dict, a: dict, labels: list[str]) -> None:
    devices_b, devices_a = b.get("devices", {}), a.get("devices", {})
    pending = [t for t, d in devices_b.items() if d.get("discard") == "pages" and d["lists"]["discard"]]
    by_prio: dict[int, list[str]] = {}
    for t in pending:
        by_prio.setdefault(devices_b[t]["priority"], []).append(t)
    for group in by_prio.values():
        if len(group) < 2:
            continue
        labels.append("sync discard, 2+ pending of one priority")
        avail = [str(t) for t in b.get("avail", ()) if str(t) in group]
        discarded = [t for t in group if t in devices_a and not devices_a[t]["lists"]["discard"]]
        if avail and discarded and avail[0] not in discarded:
            labels.append("sync discard, avail rotated")
        return


def _percpu(call: Call, result: int | None, b: dict, a: dict, labels: list[str]) -> None:
    row = next((r for r in a.get("folios", []) if r[0] == call.kwargs.get("folio")), None)
    if row is None:
        return
    order, entry = row[1], row[2]
    ok = result == 0 and entry is not None
    got = entry[0] if ok else None
    hints_b, hints_a = b.get("percpu"), a.get("percpu")
    if not hints_b or order >= len(hints_b) or hints_b[order] is None:
        return
    type, offset = hints_b[order]
    if ok and got != type:
        labels.append("pcpu switch after failed scan" if offset else "pcpu switch from empty hint")
    elif not ok and offset and hints_a and hints_a[order] is not None and hints_a[order][1] == 0:
        labels.append("pcpu hint reset by failed scan")


_NEW_FOLIO = frozenset({"folio_new", "swap_cache_alloc_folio", "swapin_folio"})


def _live(a: dict, folio: int) -> bool:
    return any(row[0] == folio for row in a.get("folios", ()))


def _bad_offsets(b: dict, type: int) -> set[int]:
    return {row[0] for row in b.get("slots", {}).get(str(type), ()) if row[1] == "bad"}


def _over_bad(call: Call, b: dict, labels: list[str]) -> None:
    entry = call.kwargs.get("entry")
    if entry is None or str(entry[0]) not in b.get("devices", {}):
        return
    bad = _bad_offsets(b, entry[0])
    offset = entry[1]
    if call.name == "swap_cache_alloc_folio":
        if offset in bad:
            labels.append("readahead over BAD")
        return
    order = call.kwargs.get("order", 0)
    if not isinstance(order, int) or order < 1 or offset in bad:
        return
    nr = 1 << order
    start = offset - offset % nr
    inside = [o for o in bad if start <= o < start + nr]
    if any(o < offset for o in inside):
        labels.append("large swapin, BAD below entry")
    if any(start < o < start + nr - 1 for o in inside):
        labels.append("large swapin, BAD inside range")


def _shadow(call: Call, a: dict, labels: list[str]) -> None:
    shadow = call.kwargs.get("shadow")
    if not isinstance(shadow, int) or shadow < SHADOW_BIG - 1:
        return
    stored = [row for rows in a.get("slots", {}).values() for row in rows if row[1] == "swapped"]
    if not any(row[4] == shadow for row in stored):
        return  # no slot was still referenced: the folio's slots were freed, nothing stored
    if shadow == SHADOW_BIG - 1:
        labels.append("shadow below escape limit")
        return
    labels.append("shadow escape stored")
    if shadow == SHADOW_BIG:
        labels.append("shadow at escape limit")
    if sum(1 for row in stored if row[4] >= SHADOW_BIG) > BIG_CELLS:
        labels.append("big shadows past table size")


def _stealing(a: dict, type: int, offset: int, cluster_size: int | None, labels: list[str]) -> None:
    if not cluster_size:
        return
    dev = a.get("devices", {}).get(str(type))
    if dev is None or "clusters" not in dev:
        return
    clusters = dev["clusters"]
    index = offset // cluster_size
    if index < len(clusters) and clusters[index][2] > 0:
        labels.append("order stealing")


def _dropped_folios(b: dict, a: dict, *, exclude: int | None) -> bool:
    """Did some folio (other than `exclude`) leave the swap cache?"""
    after = {row[0]: row[2] for row in a.get("folios", [])}
    return any(
        row[2] is not None and row[0] != exclude and row[0] in after and after[row[0]] is None
        for row in b.get("folios", [])
    )


def _discard_emptied(b: dict, a: dict) -> bool:
    for type, dev in a.get("devices", {}).items():
        old = b.get("devices", {}).get(type)
        if old is not None and "lists" in dev and old["lists"]["discard"] and not dev["lists"]["discard"]:
            return True
    return False


def _overflow(b: dict, a: dict, labels: list[str], cluster_size: int | None = None) -> None:
    for type, rows in a.get("slots", {}).items():
        old_rows = b.get("slots", {}).get(type)
        if old_rows is None or old_rows == rows:
            continue
        old = {r[0]: r[2] for r in old_rows}
        new = {r[0]: r[2] for r in rows}
        for off in old.keys() | new.keys():
            before, after = old.get(off, 0), new.get(off, 0)
            if before < SWAP_COUNT_OVERFLOW <= after:
                labels.append("overflow 14->15")
                if cluster_size and _overflowed_clusters(a, cluster_size) > EXT_ROWS >= _overflowed_clusters(
                    b, cluster_size
                ):
                    labels.append("overflow rows past table size")
            elif after < SWAP_COUNT_OVERFLOW <= before:
                labels.append("overflow 15->14")
            if before == SWAP_COUNT_OVERFLOW < after:
                labels.append("count 15->16")
            if before < FAR_COUNT <= after:
                labels.append("count far beyond")


def _overflowed_clusters(data: dict, cluster_size: int) -> int:
    """Clusters (over every device) with a slot at count >= 15: each holds an overflow row."""
    return sum(
        len({row[0] // cluster_size for row in rows if row[2] >= SWAP_COUNT_OVERFLOW})
        for rows in data.get("slots", {}).values()
    )


def error_labels(call: Call, code: str, before: Snapshot | dict) -> list[str]:
    """`labels_for` a call the reference refused with contract error `code` (nothing
    changed, so `before` is also the state after)."""
    b = _data(before)
    return labels_for(call, contract_error_result(code), b, b)
