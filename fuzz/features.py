"""State features: a cheap description of the allocator state each call met and what it did.

Coverage labels (`fuzz.events`) say that a transition happened; they cost two allocator
snapshots per call and there are a few dozen of them.  Guided campaigns (`fuzz.corpus`) need
something finer and cheaper, computed on every call of every episode: the *conjunctions* that
hide optimization bugs are made of conditions each common alone (a large allocation meeting a
nonfull list of two clusters whose head has room but no aligned gap; a whole-folio dup whose
later page sits at count 14 in a cluster with no overflowed slot yet).

So every state-changing call is described by a few small tuples, read straight from the
reference model's own containers (a handful of `len()`s and dict lookups; a cluster is scanned
only when it holds at most `SCAN_LIMIT` slots):

- allocations: the folio order, the per-CPU hint of that order (none, offset 0, a device of
  its own; on the avail head or another device), the head device's list shapes for the order
  (nonfull/frag/free lengths bucketed 0, 1, 2, 3+), the head nonfull cluster's status (no room,
  room but no aligned gap, an aligned gap), the device kinds present, and the outcome;
- dups and puts: count classes (0, 1, 2-13, 14, 15, 16+) of the touched slots, which page of
  a whole folio is at 14 (the first or a later one), whether the cluster already holds an
  overflowed slot, whether the overflow allocation is set to fail, and the outcome;
- swap-ins and swap-cache adds: the order, the entry's count class and cache state, outcome;
- everything else: the call, its outcome class and the order and cache state of its folio.

A *pair* is two features seen within `WINDOW` calls of each other (the earlier one first), so
"state A, then shortly after event B" is coverage too.  Features are interned to small ints
(per process) so a pair is one int and a membership test costs tens of nanoseconds; names
(`name_of`) are the stable, cross-process form used in reports and campaign state.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from reference.api import SWAP_COUNT_OVERFLOW, Call, SwapContractError, contract_error_result, encode_result

# Calls whose features pair with those of the calls at most this many calls later.
WINDOW = 8
# A cluster larger than this is not scanned slot by slot (large geometries): its gap status and
# overflow state are reported as unknown instead.
SCAN_LIMIT = 64
_PAIR_SHIFT = 20  # pair id = earlier << _PAIR_SHIFT | later (fewer than 2**20 features)
_OVERFLOW = SWAP_COUNT_OVERFLOW  # 15: a count at or above it lives in an overflow row

QUERIES = frozenset(
    {"folio_entry", "swap_count", "swap_cache_folio", "swap_shadow", "nr_swap_pages", "total_swap_pages"}
)

_IDS: dict[tuple[Any, ...], int] = {}
_NAMES: list[tuple[Any, ...]] = []


def feature_id(feature: tuple[Any, ...]) -> int:
    """The process-local small int of a feature tuple (interned on first sight)."""
    found = _IDS.get(feature)
    if found is None:
        found = _IDS[feature] = len(_NAMES)
        _NAMES.append(feature)
    return found


def name_of(feature: int) -> str:
    """The stable name of an interned feature: its fields joined by ':'."""
    return ":".join(str(part) for part in _NAMES[feature])


def pair_name(pair: int) -> str:
    """The stable name of a pair id: the two feature names joined by ' -> '."""
    return f"{name_of(pair >> _PAIR_SHIFT)} -> {name_of(pair & ((1 << _PAIR_SHIFT) - 1))}"


def bucket(n: int) -> int:
    """A list length as 0, 1, 2 or 3 (three or more)."""
    return n if n < 3 else 3


def count_class(count: int) -> int | str:
    """A swap count's class: the values where the packed count changes representation (0, 1,
    14, 15 as themselves; "2-13" and "16+")."""
    if count < 2:
        return count
    if count < _OVERFLOW - 1:
        return "2-13"
    if count <= _OVERFLOW:
        return count
    return "16+"


def outcome(encoded: int) -> int | str:
    """An encoded result's class: "ok" (0), "pos" (a value), or the negative number itself."""
    if encoded == 0:
        return "ok"
    return "pos" if encoded > 0 else encoded


class FeatureTracker:
    """Computes the features of every call an executor runs on `reference` (`before` and
    `after` around each call) and the pairs within `WINDOW` calls; counts what is new against
    the `features` and `pairs` sets it is given (shared across episodes by a corpus).

    `reference` should be a `reference.ReferenceSwap`; for another class only the call-level
    features (call, outcome) are computed."""

    def __init__(
        self,
        reference: Any,
        *,
        features: set[int] | None = None,
        pairs: set[int] | None = None,
        window: int = WINDOW,
    ) -> None:
        self.ref = reference
        self.deep = hasattr(reference, "devices") and hasattr(reference, "percpu_si")
        self.features: set[int] = set() if features is None else features
        self.pairs: set[int] = set() if pairs is None else pairs
        self.new_features: list[int] = []
        self.new_pairs: list[int] = []
        self.window: deque[tuple[int, ...]] = deque(maxlen=window)
        self.calls = 0
        self._pre: tuple[tuple[Any, ...], ...] = ()

    # ---- the executor's hooks ----

    def before(self, call: Call) -> None:
        """Features of the state `call` meets (computed before it runs)."""
        self._pre = self._before(call) if self.deep and call.name not in QUERIES else ()

    def after(self, call: Call, encoded: int) -> int:
        """Record `call`'s features given its encoded result; returns how many were new
        (features plus pairs)."""
        name = call.name
        if name in QUERIES:
            return 0
        self.calls += 1
        result = outcome(encoded)
        tuples = [(*pre, result) for pre in self._pre]
        tuples.append(self._after(call, name, result))
        return self._add(tuple(feature_id(t) for t in tuples))

    # ---- bookkeeping ----

    def _add(self, ids: tuple[int, ...]) -> int:
        features, pairs, window = self.features, self.pairs, self.window
        new = 0
        for f in ids:
            if f not in features:
                features.add(f)
                self.new_features.append(f)
                new += 1
        if window and window[-1] == ids:
            return new  # a repeat of the last call's features: its pairs were just counted
        for earlier in window:
            for a in earlier:
                high = a << _PAIR_SHIFT
                for b in ids:
                    pair = high | b
                    if pair not in pairs:
                        pairs.add(pair)
                        self.new_pairs.append(pair)
                        new += 1
        self.window.append(ids)
        return new

    # ---- the features ----

    def _after(self, call: Call, name: str, result: int | str) -> tuple[Any, ...]:
        """The call-level feature: call, outcome, and its folio's order and cache state."""
        folio = call.kwargs.get("folio")
        if not self.deep or folio is None:
            return (name, result)
        f = self.ref.folios.get(folio) if isinstance(folio, int) else None
        if f is None:
            return (name, result, "gone")
        return (name, result, f.order, "cached" if f.entry is not None else "uncached")

    def _before(self, call: Call) -> tuple[tuple[Any, ...], ...]:
        name = call.name
        if name == "folio_alloc_swap":
            return self._alloc(call)
        if name in ("folio_dup_swap", "swap_dup_entry_direct"):
            return self._dup(call)
        if name in ("folio_put_swap", "swap_put_entries_direct"):
            return self._put(call)
        if name in ("swapin_folio", "swap_cache_alloc_folio"):
            return self._swapin(call)
        return ()

    def _alloc(self, call: Call) -> tuple[tuple[Any, ...], ...]:
        ref = self.ref
        f = ref.folios.get(call.kwargs.get("folio"))
        if f is None or f.entry is not None:
            return ()
        order = f.order
        avail = ref.avail
        head = ref.devices[avail[0]] if avail else None
        hint_type, hint_off = ref.percpu_si[order], ref.percpu_offset[order]
        if hint_type is None:
            hint = "none"
        elif not hint_off:
            hint = "off0"
        else:
            hint = "head" if head is not None and hint_type == head.type else "other"
        if head is None:
            return (("alloc", order, hint, "no-device"),)
        if order < ref.pmd_order:
            nonfull = head.nonfull_clusters[order]
            frag = len(head.frag_clusters[order])
        else:
            nonfull, frag = [], 0
        status = self._gap_status(head, nonfull[0], order) if nonfull else "-"
        kinds = (
            ("ssd" if head.solidstate else "hdd")
            + ("" if head.blkdev else "-file")
            + ("" if head.discard == "none" else f"-{head.discard}")
        )
        return (
            ("alloc", order, hint, bucket(len(nonfull)), status),
            ("alloc-lists", order, bucket(len(nonfull)), bucket(frag), bucket(len(head.free_clusters))),
            ("alloc-device", order, kinds, bucket(len(avail)), ref._vm_swap_full()),
        )

    def _gap_status(self, si: Any, ci: int, order: int) -> str:
        """The nonfull head cluster for `order`: no room, room but no aligned free range, or
        an aligned free range (cached count-0 slots count as taken)."""
        size = self.ref.cluster_size
        nr = 1 << order
        if size - si.clusters[ci].count < nr:
            return "no-room"
        if size > SCAN_LIMIT:
            return "room"
        base = ci * size
        taken = si.bad, si.swap_map, si.swap_cache
        for start in range(base, base + size, nr):
            if not any(off in table for off in range(start, start + nr) for table in taken):
                return "aligned-gap"
        return "room-no-aligned-gap"

    def _slots(self, call: Call) -> tuple[Any, list[int], str] | None:
        """(device, offsets, kind) a dup or put touches, None if the call is misuse."""
        ref = self.ref
        entry = call.kwargs.get("entry")
        if entry is not None:
            si = ref.devices.get(entry[0]) if isinstance(entry, tuple) else None
            if si is None:
                return None
            nr = call.kwargs.get("nr", 1)
            if not isinstance(nr, int) or nr < 1:
                return None
            return si, list(range(entry[1], entry[1] + min(nr, SCAN_LIMIT))), "entry" if nr == 1 else "range"
        f = ref.folios.get(call.kwargs.get("folio"))
        if f is None or f.entry is None:
            return None
        si = ref.devices[f.entry.type]
        page = call.kwargs.get("page")
        if page is None:
            return si, list(range(f.entry.offset, f.entry.offset + f.nr)), "whole" if f.nr > 1 else "single"
        if not isinstance(page, int) or not 0 <= page < f.nr:
            return None
        return si, [f.entry.offset + page], "page"

    def _cluster_overflowed(self, si: Any, off: int, top: int) -> str:
        """Whether `off`'s cluster holds a slot at 15 or more; asked only where it decides
        something (a touched count of 14 to 16: entering or leaving overflow storage)."""
        if not _OVERFLOW - 1 <= top <= _OVERFLOW + 1:
            return "-"
        size = self.ref.cluster_size
        if size > SCAN_LIMIT:
            return "?"
        base = off - off % size
        counts = si.swap_map
        return "ovf" if any(counts.get(o, 0) >= _OVERFLOW for o in range(base, base + size)) else "no-ovf"

    def _dup(self, call: Call) -> tuple[tuple[Any, ...], ...]:
        touched = self._slots(call)
        if touched is None:
            return ()
        si, offsets, kind = touched
        counts = [si.swap_map.get(off, 0) for off in offsets]
        top = max(counts)
        at14 = [i for i, c in enumerate(counts) if c == _OVERFLOW - 1]
        where = "none" if not at14 else ("first" if at14[0] == 0 else "later")
        fails = bool(call.kwargs.get("alloc_fails"))
        return (("dup", kind, count_class(top), where, self._cluster_overflowed(si, offsets[0], top), fails),)

    def _put(self, call: Call) -> tuple[tuple[Any, ...], ...]:
        touched = self._slots(call)
        if touched is None:
            return ()
        si, offsets, kind = touched
        top = max(si.swap_map.get(off, 0) for off in offsets)
        cached = any(off in si.swap_cache for off in offsets)
        return (("put", kind, count_class(top), cached, self._cluster_overflowed(si, offsets[0], top)),)

    def _swapin(self, call: Call) -> tuple[tuple[Any, ...], ...]:
        entry = call.kwargs.get("entry")
        si = self.ref.devices.get(entry[0]) if isinstance(entry, tuple) else None
        if si is None or not isinstance(entry[1], int):
            return ()
        off = entry[1]
        order = call.kwargs.get("order", 0)
        state = "bad" if off in si.bad else ("cached" if off in si.swap_cache else "uncached")
        return ((call.name, order, count_class(si.swap_map.get(off, 0)), state),)


class ObservedExecutor:
    """A world executor that runs every call through `inner` (a `Lockstep`, say) and shows it
    and its encoded result to `tracker`; the Hypothesis machine's way to see features."""

    def __init__(self, inner: Any, tracker: FeatureTracker) -> None:
        self.inner = inner
        self.tracker = tracker

    def call(self, call: Call) -> Any:
        tracker = self.tracker
        tracker.before(call)
        try:
            value = self.inner.call(call)
        except SwapContractError as err:
            tracker.after(call, contract_error_result(err.code))
            raise
        tracker.after(call, encode_result(call.name, value))
        return value
