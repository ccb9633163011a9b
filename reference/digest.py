"""63-bit state digests: the definition from a snapshot, and the reference's incremental copy.

A digest is the sum, modulo 2**63, of `hash()` of one integer tuple per observable record of a
snapshot (`record_tuples` lists them).  Python's `hash()` of a tuple of ints is deterministic
(only str and bytes hashes are salted per process) and numba implements the same function, so
the optimized kernels compute the same value.  A sum of record hashes changes in O(1) when one
record changes, which is what lets an implementation keep its digest current op by op; list
order is folded in as one record per link (`prev -> cur`, with LINK_HEAD and LINK_END sentinels), so
moving one element changes O(1) records too.  Equal states give equal digests; a collision can
hide a difference, never invent one (the harness backs digests with full snapshots every N ops).

`snapshot_digest(snapshot)` is the slow, independent definition.  `StateDigest` keeps the
reference model's digest current: the model's containers are the tracking subclasses below,
which mark the records they touch dirty; `value(level)` rehashes only those (plus the few
per-device and global records, O(devices + orders)).  Nothing here changes model behaviour.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Sequence
from typing import Any, SupportsIndex

from reference.api import (
    CLUSTER_FLAG_NAMES,
    DIGEST_MASK,
    DISCARD_KINDS,
    LINK_END,
    LINK_HEAD,
    LIST_DISCARD,
    LIST_FRAG,
    LIST_FREE,
    LIST_FULL,
    LIST_NONFULL,
    R_AVAIL,
    R_CLUSTER,
    R_DEVICE,
    R_FOLIO,
    R_GLOBAL,
    R_HINT,
    R_LINK,
    R_PERCPU,
    R_SLOT,
    SLOT_BAD,
    SLOT_CACHED,
    Snapshot,
)

_FLAG_CODE = {name: code for code, name in enumerate(CLUSTER_FLAG_NAMES)}
_STATE_CODE = {SLOT_BAD: 3, SLOT_CACHED: 1}  # anything else is SWAPPED (2)


def slot_state_code(state: str) -> int:
    return _STATE_CODE.get(state, 2)


def digest_hex(value: int) -> str:
    """The 16-hex-digit form used in messages."""
    return f"{value:016x}"


def _link_hashes(prefix: tuple[int, ...], items: list[int]) -> int:
    total = 0
    prev = LINK_HEAD
    for cur in items:
        total += hash((*prefix, prev, cur))
        prev = cur
    return total + hash((*prefix, prev, LINK_END))


def record_tuples(snap: Snapshot | dict[str, Any]) -> list[tuple[int, ...]]:
    """Every record of a snapshot as the integer tuple its digest hashes (links excluded)."""
    data = snap.data if isinstance(snap, Snapshot) else snap
    out: list[tuple[int, ...]] = [
        (R_GLOBAL, data["nr_swap_pages"], data["total_swap_pages"], int(data["pm_suspended_storage"]))
    ]
    for key, dev in data["devices"].items():
        out.append(device_tuple(int(key), dev))
    for key, rows in data["slots"].items():
        t = int(key)
        for off, state, count, folio, shadow in rows:
            out.append((R_SLOT, t, off, slot_state_code(state), count, folio, shadow))
    for fid, order, entry, locked, writeback, mapped in data["folios"]:
        et, eo = (-1, -1) if entry is None else entry
        out.append((R_FOLIO, fid, order, et, eo, int(locked), int(writeback), int(mapped)))
    if data["level"] == "allocator":
        for key, dev in data["devices"].items():
            t = int(key)
            for ci, (count, flag, order) in enumerate(dev["clusters"]):
                out.append((R_CLUSTER, t, ci, count, _FLAG_CODE[flag], order))
            for order, value in enumerate(dev["hint"]):
                out.append((R_HINT, t, order, value))
        for order, hint in enumerate(data["percpu"]):
            out.append((R_PERCPU, order, -1, -1) if hint is None else (R_PERCPU, order, hint[0], hint[1]))
    return out


def device_tuple(t: int, dev: dict[str, Any]) -> tuple[int, ...]:
    return (
        R_DEVICE,
        t,
        dev["max"],
        dev["pages"],
        dev["inuse"],
        dev["priority"],
        int(dev["writeok"]),
        int(dev["on_avail"]),
        int(dev["swapping_off"]),
        int(dev["solidstate"]),
        int(dev["blkdev"]),
        DISCARD_KINDS.index(dev["discard"]),
    )


def snapshot_digest(snap: Snapshot | dict[str, Any]) -> int:
    """The digest of a snapshot, recomputed from its data (the definition)."""
    data = snap.data if isinstance(snap, Snapshot) else snap
    total = sum(hash(r) for r in record_tuples(data))
    if data["level"] == "allocator":
        for key, dev in data["devices"].items():
            t = int(key)
            lists = dev["lists"]
            total += _link_hashes((R_LINK, t, LIST_FREE), lists["free"])
            total += _link_hashes((R_LINK, t, LIST_FULL), lists["full"])
            total += _link_hashes((R_LINK, t, LIST_DISCARD), lists["discard"])
            for order, items in enumerate(lists["nonfull"]):
                total += _link_hashes((R_LINK, t, LIST_NONFULL + order), items)
            for order, items in enumerate(lists["frag"]):
                total += _link_hashes((R_LINK, t, LIST_FRAG + order), items)
        total += _link_hashes((R_AVAIL,), data["avail"])
    return total & DIGEST_MASK


# --------------------------------------------------------------------------------------------
# The reference model's incremental digest
# --------------------------------------------------------------------------------------------


def _deepcopy_list(self: list, memo: dict[int, Any]) -> list:
    """A tracking list's deep copy (checkpoints, `fuzz.checkpoint`): the items copied as they
    are and the attributes deep-copied, without the tracked writes (which would count the
    links or dirty the keys a second time in the copied digest)."""
    new = list.__new__(type(self))
    memo[id(self)] = new
    list.extend(new, [copy.deepcopy(item, memo) for item in self])
    new.__dict__.update(copy.deepcopy(self.__dict__, memo))
    return new


def _deepcopy_dict(self: dict, memo: dict[int, Any]) -> dict:
    """A tracking dict's deep copy, as `_deepcopy_list`."""
    new = dict.__new__(type(self))
    memo[id(self)] = new
    new.__dict__.update(copy.deepcopy(self.__dict__, memo))
    dict.update(new, {key: copy.deepcopy(value, memo) for key, value in self.items()})
    return new


class Tracked:
    """Base of a model record (a folio, a cluster) whose attribute writes dirty its digest."""

    _owner: StateDigest | None = None
    _key: tuple[Any, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        owner = self._owner
        if owner is not None:
            owner.dirty.add(self._key)


class SlotDict(dict):
    """A per-device slot dict (`swap_map`, `swap_cache`, `shadows`): writes dirty the slot."""

    def __init__(self, owner: StateDigest, type: int) -> None:
        super().__init__()
        self._dirty = owner.dirty
        self._type = type

    def __setitem__(self, key: int, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self._dirty.add(("s", self._type, key))

    def __delitem__(self, key: int) -> None:
        dict.__delitem__(self, key)
        self._dirty.add(("s", self._type, key))

    def pop(self, key: int, *default: Any) -> Any:
        self._dirty.add(("s", self._type, key))
        return dict.pop(self, key, *default)

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the model only writes slot dicts by key")

    update = setdefault = popitem = clear = _unsupported
    __deepcopy__ = _deepcopy_dict


class FolioDict(dict):
    """`ReferenceSwap.folios`: inserting or removing a folio dirties its record."""

    def __init__(self, owner: StateDigest) -> None:
        super().__init__()
        self._owner = owner

    def __setitem__(self, key: int, folio: Tracked) -> None:
        dict.__setitem__(self, key, folio)
        object.__setattr__(folio, "_key", ("f", key))
        object.__setattr__(folio, "_owner", self._owner)
        self._owner.dirty.add(("f", key))

    def __delitem__(self, key: int) -> None:
        folio = self[key]
        dict.__delitem__(self, key)
        object.__setattr__(folio, "_owner", None)
        self._owner.dirty.add(("f", key))

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the model only writes the folio dict by key")

    update = setdefault = pop = popitem = clear = _unsupported
    __deepcopy__ = _deepcopy_dict


class LinkList(list):
    """A cluster list or the avail list: keeps the sum of its link-record hashes current.

    Only the methods the model uses are tracked (append, insert, remove, pop); the others
    raise, so a model change that needs one cannot silently break the digest."""

    def __init__(self, owner: StateDigest, prefix: tuple[int, ...], items: Sequence[int] = ()) -> None:
        super().__init__(items)
        self._owner = owner
        self._prefix = prefix
        self.links = _link_hashes(prefix, list(items))
        owner.links += self.links

    def _relink(self, removed: tuple[tuple[int, int], ...], added: tuple[tuple[int, int], ...]) -> None:
        p = self._prefix
        delta = sum(hash((*p, a, b)) for a, b in added) - sum(hash((*p, a, b)) for a, b in removed)
        self.links += delta
        self._owner.links += delta

    def append(self, item: int) -> None:
        self.insert(len(self), item)

    def insert(self, index: SupportsIndex, item: int) -> None:
        index = max(0, min(operator.index(index), len(self)))
        prev = list.__getitem__(self, index - 1) if index > 0 else LINK_HEAD
        nxt = list.__getitem__(self, index) if index < len(self) else LINK_END
        list.insert(self, index, item)
        self._relink(((prev, nxt),), ((prev, item), (item, nxt)))

    def pop(self, index: SupportsIndex = -1) -> int:
        index = operator.index(index)
        index = index + len(self) if index < 0 else index
        prev = list.__getitem__(self, index - 1) if index > 0 else LINK_HEAD
        nxt = list.__getitem__(self, index + 1) if index + 1 < len(self) else LINK_END
        item = list.pop(self, index)
        self._relink(((prev, item), (item, nxt)), ((prev, nxt),))
        return item

    def remove(self, item: int) -> None:
        self.pop(self.index(item))

    def detach(self) -> None:
        """The list's device is gone: take its links out of the digest."""
        self._owner.links -= self.links
        self.links = 0

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the model only changes cluster lists by append/insert/remove/pop")

    __setitem__ = __delitem__ = __iadd__ = extend = sort = reverse = clear = _unsupported
    __deepcopy__ = _deepcopy_list


class ValueList(list):
    """A short list written by index (a device's HDD hints, the per-CPU hint pair): writes
    dirty one digest key."""

    def __init__(self, owner: StateDigest, key: tuple[Any, ...], items: list[Any]) -> None:
        super().__init__(items)
        self._dirty = owner.dirty
        self._key = key
        owner.dirty.add(key)

    def __setitem__(self, index: Any, value: Any) -> None:
        list.__setitem__(self, index, value)
        self._dirty.add(self._key)

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the model only writes hint lists by index")

    __delitem__ = __iadd__ = append = extend = insert = pop = remove = sort = reverse = clear = _unsupported
    __deepcopy__ = _deepcopy_list


# Digest keys: ("s", type, offset) slot, ("f", id) folio, ("d", type) device record,
# ("c", type, index) cluster, ("h", type) a device's hints, ("p",) the per-CPU hints.
_ALLOCATOR_KEYS = frozenset({"c", "h", "p"})
_DEVICE_KEYS = frozenset({"s", "d", "c", "h"})


class StateDigest:
    """The reference model's digest, kept current by the tracking containers above."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.dirty: set[tuple[Any, ...]] = set()
        self.hashes: dict[tuple[Any, ...], int] = {}  # the hash each settled key contributes
        self.contract = 0  # sum of the contract-level keys' hashes
        self.allocator = 0  # sum of the allocator-only keys' hashes
        self.links = 0  # sum of every LinkList's link hashes (allocator level)

    # ---- adopting containers ----

    def link_list(self, prefix: tuple[int, ...], items: Sequence[int] = ()) -> LinkList:
        return LinkList(self, prefix, items)

    def percpu_lists(self, si: list[int | None], offset: list[int]) -> tuple[ValueList, ValueList]:
        """The model's per-CPU hint lists (device type and offset per order), tracked."""
        return ValueList(self, ("p",), si), ValueList(self, ("p",), offset)

    def adopt_device(self, si: Any) -> None:
        """A device joins the model (swapon): track its record, slots, clusters and lists."""
        t = si.type
        for name in ("swap_map", "swap_cache", "shadows"):
            tracked = SlotDict(self, t)
            for key, value in getattr(si, name).items():
                dict.__setitem__(tracked, key, value)
            setattr(si, name, tracked)
        for off in si.bad | si.swap_map.keys() | si.swap_cache.keys():
            self.dirty.add(("s", t, off))
        for ci, cluster in enumerate(si.clusters):
            object.__setattr__(cluster, "_key", ("c", t, ci))
            object.__setattr__(cluster, "_owner", self)
            self.dirty.add(("c", t, ci))
        si.free_clusters = LinkList(self, (R_LINK, t, LIST_FREE), si.free_clusters)
        si.full_clusters = LinkList(self, (R_LINK, t, LIST_FULL), si.full_clusters)
        si.discard_clusters = LinkList(self, (R_LINK, t, LIST_DISCARD), si.discard_clusters)
        si.nonfull_clusters = [
            LinkList(self, (R_LINK, t, LIST_NONFULL + o), lst) for o, lst in enumerate(si.nonfull_clusters)
        ]
        si.frag_clusters = [
            LinkList(self, (R_LINK, t, LIST_FRAG + o), lst) for o, lst in enumerate(si.frag_clusters)
        ]
        si.global_next = ValueList(self, ("h", t), si.global_next)
        object.__setattr__(si, "_key", ("d", t))
        object.__setattr__(si, "_owner", self)
        self.dirty.add(("d", t))

    def drop_device(self, si: Any) -> None:
        """A device leaves the model (swapoff_end): its records and links leave the digest."""
        t = si.type
        for key in self.hashes:
            if key[0] in _DEVICE_KEYS and key[1] == t:
                self.dirty.add(key)
        for lst in (
            si.free_clusters,
            si.full_clusters,
            si.discard_clusters,
            *si.nonfull_clusters,
            *si.frag_clusters,
        ):
            lst.detach()
        for record in (si, *si.clusters):
            object.__setattr__(record, "_owner", None)

    # ---- reading ----

    def _hash_of(self, key: tuple[Any, ...]) -> int:
        """What the records behind `key` add to the digest now (0 for none)."""
        m = self.model
        kind = key[0]
        if kind == "s":
            _, t, off = key
            si = m.devices.get(t)
            if si is None:
                return 0
            if off in si.bad:
                return hash((R_SLOT, t, off, 3, 0, 0, 0))
            if off in si.swap_cache:
                return hash((R_SLOT, t, off, 1, si.swap_map.get(off, 0), si.swap_cache[off], 0))
            count = si.swap_map.get(off, 0)
            if count == 0:
                return 0  # FREE: no record
            return hash((R_SLOT, t, off, 2, count, 0, si.shadows.get(off, 0)))
        if kind == "f":
            f = m.folios.get(key[1])
            if f is None:
                return 0
            et, eo = (-1, -1) if f.entry is None else f.entry
            return hash((R_FOLIO, f.id, f.order, et, eo, int(f.locked), int(f.writeback), int(f.mapped)))
        if kind == "p":
            total = 0
            for order, t in enumerate(m.percpu_si):
                off = -1 if t is None else m.percpu_offset[order]
                total += hash((R_PERCPU, order, -1 if t is None else t, off))
            return total
        si = m.devices.get(key[1])
        if si is None:
            return 0
        t = si.type
        if kind == "c":
            c = si.clusters[key[2]]
            return hash((R_CLUSTER, t, key[2], c.count, c.flag, c.order))
        if kind == "h":
            return sum(hash((R_HINT, t, order, value)) for order, value in enumerate(si.global_next))
        return hash(
            (
                R_DEVICE,
                t,
                si.max,
                si.pages,
                si.inuse,
                si.prio,
                int(si.writeok),
                int(si.on_avail),
                int(si.swapping_off),
                int(si.solidstate),
                int(si.blkdev),
                DISCARD_KINDS.index(si.discard),
            )
        )

    def _settle(self) -> None:
        hashes = self.hashes
        for key in self.dirty:
            delta = -hashes.pop(key, 0)
            new = self._hash_of(key)
            if new:
                hashes[key] = new
            delta += new
            if key[0] in _ALLOCATOR_KEYS:
                self.allocator += delta
            else:
                self.contract += delta
        self.dirty.clear()

    def value(self, level: str) -> int:
        """The digest of `model.snapshot(level)`, without building the snapshot."""
        if self.dirty:
            self._settle()
        m = self.model
        total = self.contract + hash((R_GLOBAL, m._nr_swap_pages, m._total_swap_pages, int(m.pm_suspended)))
        if level == "allocator":
            total += self.allocator + self.links
        return total & DIGEST_MASK
