"""Small helpers shared by the reference scenario tests: common call sequences and readers
for the parts of a snapshot the tests look at (so the snapshot layout lives in one place)."""

from __future__ import annotations

from typing import Any

from reference.api import Entry


def cache(sw: Any, folio: int, order: int = 0) -> Entry:
    """Create a folio and allocate swap for it: its slots end CACHED(folio, 0)."""
    assert sw.folio_new(folio, order) == 0
    assert sw.folio_alloc_swap(folio) == 0
    entry = sw.folio_entry(folio)
    assert entry is not None
    return entry


def swap_out(sw: Any, folio: int, order: int = 0, shadow: int = 0) -> Entry:
    """The reclaim path: allocate, one reference per page, drop the folio from the cache.

    The slots end SWAPPED with count 1 and `shadow`; the folio is dropped."""
    entry = cache(sw, folio, order)
    assert sw.folio_dup_swap(folio) == 0
    assert sw.swap_cache_del_folio(folio, shadow) == 0
    assert sw.folio_drop(folio) == 0
    return entry


def offsets_of(sw: Any, first_folio: int, n: int, order: int = 0) -> list[int]:
    """Swap out `n` folios with ids first_folio.. and return their first offsets."""
    return [swap_out(sw, first_folio + i, order).offset for i in range(n)]


def dev(snap: Any, type: int) -> dict:
    return snap.data["devices"][str(type)]


def clusters(sw: Any, type: int = 0) -> list[list]:
    """[[count, flag, order], ...] of a device."""
    return dev(sw.snapshot("allocator"), type)["clusters"]


def flags(sw: Any, type: int = 0) -> list[str]:
    return [c[1] for c in clusters(sw, type)]


def lists(sw: Any, type: int = 0) -> dict:
    return dev(sw.snapshot("allocator"), type)["lists"]


def avail(sw: Any) -> list[int]:
    return sw.snapshot("allocator").data["avail"]


def percpu(sw: Any) -> list:
    return sw.snapshot("allocator").data["percpu"]


def hint(sw: Any, type: int = 0) -> list[int]:
    return dev(sw.snapshot("allocator"), type)["hint"]


def slot_rows(sw: Any, type: int = 0) -> dict[int, list]:
    """Non-FREE slots of a device: offset -> [state, count, folio, shadow]."""
    rows = sw.snapshot("contract").data["slots"].get(str(type), [])
    return {r[0]: list(r[1:]) for r in rows}


def accounting_holds(sw: Any) -> bool:
    """Semantics 3.2.5 outside swapoff: nr_swap_pages + sum(inuse) == total_swap_pages."""
    devices = sw.snapshot("contract").data["devices"].values()
    inuse = sum(d["inuse"] for d in devices if not d["swapping_off"])
    return sw.nr_swap_pages() + inuse == sw.total_swap_pages()
