"""The world's own state: processes and their page tables, folios, shmem objects, devices."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fuzz.world.geometry import DeviceSpec
from reference.api import (
    Entry,
)

PAGE = 0  # page-table entry maps (folio id, page index)
SWAP = 1  # page-table entry holds a swap entry (type, offset)

# Calls after which the implementation may have dropped folios from the swap cache on its own
# (reclaim in the allocator's scan, zap reclaim, reclaim work, hibernation free).
RECLAIMING_CALLS = frozenset(
    {
        "folio_alloc_swap",
        "swap_put_entries_direct",
        "swap_reclaim_work",
        "swap_alloc_hibernation_slot",
        "swap_free_hibernation_slot",
    }
)
MAX_PROCESSES = 12
# Actions whose weight is multiplied by 4 when the world holds its page budget (free memory).
_CROWDED_BOOST = frozenset({"zap", "exit", "reclaim_full", "shmem_truncate"})
_TABLE_CACHE_LIMIT = 4096
MAX_FANOUT_PROCESSES = 40
HIB_FREED_MEMORY = 8


@dataclass
class Process:
    pid: int
    pt: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    next_vpn: int = 0
    nswap: int = 0  # page-table entries that hold a swap entry


# A folio's state as the enabled-predicates see it: one bit per property they read.  The world
# keeps a Counter of the states of its folios, updated on every change (see `Folio`), so the
# per-step summary costs O(number of distinct states), not O(number of folios).
_CACHED, _MAPPED, _LOCKED, _WRITEBACK, _SHMEM = 1, 2, 4, 8, 16
_STATE_FIELDS = frozenset({"entry", "shmem", "locked", "writeback"})


class _Rmap(dict):
    """A folio's reverse map that reports to its folio when it turns empty or non-empty."""

    __slots__ = ("folio",)

    def __init__(self, folio: Folio, items: Any = ()) -> None:
        super().__init__(items)
        self.folio = folio

    def __setitem__(self, key: tuple[int, int], value: int) -> None:
        if self:
            dict.__setitem__(self, key, value)
        else:
            self.folio._change(dict.__setitem__, self, key, value)

    def __delitem__(self, key: tuple[int, int]) -> None:
        if len(self) > 1:
            dict.__delitem__(self, key)
        else:
            self.folio._change(dict.__delitem__, self, key)

    def clear(self) -> None:
        self.folio._change(dict.clear, self)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Rmap:
        # Items copied without `__setitem__`, which would count the copied folio's state
        # before the folio is whole (checkpoints, fuzz.checkpoint).
        new = _Rmap.__new__(_Rmap)
        memo[id(self)] = new
        dict.update(new, self)  # (pid, vpn) -> page: immutable keys and values
        new.folio = copy.deepcopy(self.folio, memo)
        return new


@dataclass(eq=False)
class Folio:
    """The world's view of one folio.  Changes to the fields the enabled-predicates read
    (entry, rmap emptiness, shmem, locked, writeback) update the owning world's state
    counter once the world has registered the folio."""

    id: int
    order: int
    entry: Entry | None = None  # first entry while in the swap cache
    rmap: dict[tuple[int, int], int] = field(default_factory=dict)  # (pid, vpn) -> page
    shmem: int | None = None  # owning shmem object
    locked: bool = False
    writeback: bool = False
    mapped: bool = False
    # The owning world's state counter (set by `track`, not a dataclass field).
    _states: ClassVar[Counter[int] | None]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rmap", _Rmap(self, self.rmap))
        object.__setattr__(self, "_states", None)

    @property
    def nr(self) -> int:
        return 1 << self.order

    @property
    def state(self) -> int:
        return (
            (self.entry is not None) * _CACHED
            | bool(self.rmap) * _MAPPED
            | self.locked * _LOCKED
            | self.writeback * _WRITEBACK
            | (self.shmem is not None) * _SHMEM
        )

    def track(self, states: Counter[int] | None) -> None:
        """Count this folio in `states` (a world's counter), or stop counting it (None)."""
        if self._states is not None:
            self._states[self.state] -= 1
        object.__setattr__(self, "_states", states)
        if states is not None:
            states[self.state] += 1

    def _change(self, mutate: Callable[..., Any], *args: Any) -> None:
        states = self._states
        if states is None:
            mutate(*args)
            return
        old = self.state
        mutate(*args)
        new = self.state
        if new != old:
            states[old] -= 1
            states[new] += 1

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _STATE_FIELDS and self.__dict__.get("_states") is not None:
            self._change(object.__setattr__, self, name, value)
        else:
            object.__setattr__(self, name, value)


@dataclass
class Shmem:
    """A shmem-like object of one folio's size: it owns a folio or a whole-folio swap entry."""

    id: int
    order: int
    folio: int | None = None
    entry: Entry | None = None
    mmapped: bool = False


@dataclass
class Device:
    type: int
    spec: DeviceSpec
    swapping_off: bool = False


@dataclass
class Summary:
    """Counts read by the enabled-predicates, computed in one pass per step."""

    cached: int = 0
    cached_mapped: int = 0
    cached_unlocked: int = 0
    uncached_mapped: int = 0
    uncached: int = 0
    writeback: int = 0
    not_writeback_cached: int = 0
    locked: int = 0
    startable: int = 0  # cached, neither locked nor under writeback
    releasable: int = 0
    swap_ptes: int = 0
    shmem_folio: int = 0
    shmem_swap: int = 0
