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

from reference.api import EBUSY, ENOMEM, ENTRY_SHIFT, SWAP_COUNT_OVERFLOW, Call, Snapshot

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
    if name in _COUNTING:
        _overflow(b, a, labels)
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


def _overflow(b: dict, a: dict, labels: list[str]) -> None:
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
            elif after < SWAP_COUNT_OVERFLOW <= before:
                labels.append("overflow 15->14")
