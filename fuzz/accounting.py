"""The accounting level: a candidate compared with the reference up to renaming of entries.

A candidate that changes allocation policy (another cluster choice, scan order or per-CPU
hint rule) places slots elsewhere; at the `allocator` and `contract` levels it diverges at its
first allocation.  At this level the reference's entries are the logical handles the callers
(the world, a trace) use, and `Pairing` is a bijection from them to the candidate's entries,
built as entries are returned (a folio's allocation pairs its entries page by page, a
hibernation slot likewise) and dissolved when both slots are free again.  Every call is
translated for the candidate through it (`AccountingStepper._translate`; a put over a logical
range the candidate holds in pieces becomes one put per contiguous piece), and after every
state-changing call the candidate's contract snapshot, renamed through the bijection, must
equal the reference's: every paired slot's count, cache state (which folio) and shadow, every
live folio's entry, the globals and the device records (a device's `inuse` and `on_avail`,
once the sides hold different numbers of slots on it, each against its own slots).

Where the policy decides an outcome, the two sides may fork, and the fork is checked against
refinement rules on each side's own state before the call (which the previous comparison
showed equal to the reference's up to renaming), then closed so that the world continues on
one logical state (docs/accounting.md, reference/MODEL.md "The accounting
level"):

- `folio_alloc_swap` returning 0 on one side and -ENOMEM on the other: the failing side must
  have had no free range every scan reaches (`usable_range`); the succeeding side then gives
  the slots back (`swap_cache_del_folio(folio, 0)`, the kernel's own charge-failure undo) and
  the world sees -ENOMEM.
- `swap_alloc_hibernation_slot` returning an entry on one side only: the failing side's device
  must have had no free slot (or not be writable); the other frees its slot again.
- a folio cached before a policy call (`POLICY_CALLS`: the allocator's scans and the reclaim
  work) that only one side dropped from the swap cache: the dropping side must have been
  allowed to (try-reclaim: every slot at count 0, not locked, not under writeback, storage not
  suspended; for the reclaim work, a folio of that device); the keeping side then drops it too.

Where an entry lands is checked on the candidate's state before the call
(`_placement_problem`): aligned, on a writable device, and with `same_device` on the
reference's device unless `device_choice_problem` finds the candidate's own reason for another
(the solid-state device it last allocated that order from, or the one the priority-ordered
walk reaches).
The world's swapoff unuses every logical entry either side holds on the device (`held_on`).

Anything else that differs is a divergence: `result`, `state` (with the paired-slot diff),
`pairing` (an entry returned that is already paired, misaligned, on a device it may not use),
`untranslatable` (a trace asks for a large swap-in over entries the candidate holds apart: only
replaying a trace recorded at another level can ask that).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fuzz.impls import digest_reader
from fuzz.replay import (
    QUERY_CALLS,
    CallHung,
    Ran,
    StepDivergence,
    _invariants,
    _run_full,
)
from reference.api import (
    ENOMEM,
    SLOT_BAD,
    SLOT_CACHED,
    Call,
    Entry,
    SwapImpl,
    contract_code_of_result,
    diff,
    encode_result,
    vm_swap_full,
)

ACCOUNTING = "accounting"
LEVELS = ("contract", "allocator", ACCOUNTING)
# The calls whose outcome the allocation policy decides: which cached count-0 folios their
# scans reclaim (and, for the two allocations, whether they succeed).
POLICY_CALLS = frozenset({"folio_alloc_swap", "swap_alloc_hibernation_slot", "swap_reclaim_work"})
# Device fields where entries live decides: compared across sides while both hold the same
# number of slots on the device, else each side against its own slots (`_device_facts`).
PLACEMENT_KEYS = frozenset({"inuse", "on_avail"})
# Dups whose -ENOMEM (with alloc_fails) depends on which cluster holds the slot.
DUP_CALLS = frozenset({"folio_dup_swap", "swap_dup_entry_direct"})


def snapshot_level(level: str) -> str:
    """The snapshot level an implementation is asked for when comparing at `level`."""
    return "contract" if level == ACCOUNTING else level


class Untranslatable(Exception):
    """A call the candidate cannot be given in its own entries."""


# --------------------------------------------------------------------------------------------
# One side's observable state, indexed
# --------------------------------------------------------------------------------------------


@dataclass
class SideState:
    """An implementation's contract snapshot, indexed by entry and by folio."""

    data: dict[str, Any]
    slots: dict[tuple[int, int], tuple[str, int, int, int]]  # non-free: (state, count, folio, shadow)
    folios: dict[int, tuple[int, Entry | None, bool, bool, bool]]  # order, entry, locked, wb, mapped
    devices: dict[int, dict[str, Any]]
    globals: dict[str, Any]

    @classmethod
    def of(cls, impl: SwapImpl) -> SideState:
        snap = impl.snapshot("contract")
        data = snap.data
        # Keyed by plain (type, offset) tuples: equal to (and hashed as) the Entry of the same
        # slot, and much cheaper to build for every slot after every call.
        slots = {}
        for t, rows in data["slots"].items():
            type_ = int(t)
            for row in rows:
                slots[(type_, row[0])] = (row[1], row[2], row[3], row[4])
        folios = {
            row[0]: (row[1], None if row[2] is None else Entry(*row[2]), row[3], row[4], row[5])
            for row in data["folios"]
        }
        devices = {int(t): dev for t, dev in data["devices"].items()}
        globals_ = {k: data[k] for k in ("nr_swap_pages", "total_swap_pages", "pm_suspended_storage")}
        return cls(data, slots, folios, devices, globals_)

    def text(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))

    def is_free(self, entry: Entry) -> bool:
        dev = self.devices.get(entry.type)
        return dev is not None and 0 < entry.offset < dev["max"] and entry not in self.slots

    def is_bad(self, entry: Entry) -> bool:
        row = self.slots.get(entry)
        dev = self.devices.get(entry.type)
        return dev is None or entry.offset >= dev["max"] or (row is not None and row[0] == SLOT_BAD)

    def count(self, entry: Entry) -> int:
        row = self.slots.get(entry)
        return 0 if row is None else row[1]


# --------------------------------------------------------------------------------------------
# The bijection
# --------------------------------------------------------------------------------------------


class Pairing:
    """Reference entry (the logical handle) <-> candidate entry, with the order of the
    allocation that created the pair."""

    def __init__(self) -> None:
        self.fwd: dict[tuple[int, int], Entry] = {}
        self.back: dict[tuple[int, int], Entry] = {}
        self.order: dict[tuple[int, int], int] = {}

    def __len__(self) -> int:
        return len(self.fwd)

    def pair(self, ref: Entry, cand: Entry, order: int) -> None:
        self.fwd[ref] = cand
        self.back[cand] = ref
        self.order[ref] = order

    def drop(self, ref: tuple[int, int]) -> None:
        cand = self.fwd.pop(ref)
        del self.back[cand]
        del self.order[ref]

    def dissolve_free(self, ref: SideState, cand: SideState) -> None:
        """Forget the pairs whose slots are free on both sides."""
        for r in [r for r, c in self.fwd.items() if r not in ref.slots and c not in cand.slots]:
            self.drop(r)


# --------------------------------------------------------------------------------------------
# Refinement rules
# --------------------------------------------------------------------------------------------


def usable_range(
    side: SideState,
    order: int,
    cluster_size: int,
    *,
    devices: Iterable[int],
    waits_for_discard: bool = True,
) -> Entry | None:
    """The first aligned range of 2**order free slots on one of `devices` that every scan of
    `side` reaches for a folio of that order, or None: a range the policy has no say in.

    Order 0: any free slot of a writable device, unless the scan may reclaim there: when
    `vm_swap_full()`, a scan reclaims cached count-0 slots on its way, and a cluster whose
    last slot it frees leaves the scan's hands (it is FREE, not usable until isolated again),
    ending that scan of the device early (`may_abort_scan`).  A wholly free cluster of a device that
    discards freed clusters may still wait for its discard; an order-0 folio allocation
    discards and retries (`waits_for_discard`), a hibernation slot or a single pass over the
    devices does not, so there it does not count.  Larger: a wholly free cluster of a
    writable block device (swap files take only order 0) that does not discard freed
    clusters.  A partly used cluster of that order is not such a range: the kernel's scan
    takes only the head of the frag list of an order and stops, so whether it reaches one
    depends on list order, which is the policy's."""
    nr = 1 << order
    for t in devices:
        dev = side.devices.get(t)
        if dev is None or not dev["writeok"] or (order > 0 and not dev["blkdev"]):
            continue
        if order == 0 and may_abort_scan(side, t):
            continue
        pending = dev["discard"] == "pages"
        for base in range(0, dev["max"], cluster_size):
            wholly_free = all((t, o) not in side.slots for o in range(base, base + cluster_size))
            if wholly_free and pending and (order > 0 or not waits_for_discard):
                continue
            if order > 0:
                if wholly_free and nr <= cluster_size:
                    return Entry(t, base)
                continue
            for off in range(base, min(base + cluster_size, dev["max"])):
                if side.is_free(Entry(t, off)):
                    return Entry(t, off)
    return None


def may_abort_scan(side: SideState, t: int) -> bool:
    """Whether an order-0 scan of device `t` of `side` may reclaim a cached folio and stop:
    `vm_swap_full()` and the device holds a count-0 slot of a cached folio try-reclaim can
    take (not locked, not under writeback, storage not suspended)."""
    g = side.globals
    if not vm_swap_full(g["nr_swap_pages"], g["total_swap_pages"]) or g["pm_suspended_storage"]:
        return False
    for (type_, _), (state, count, folio, _) in side.slots.items():
        if type_ == t and state == SLOT_CACHED and count == 0:
            _, _, locked, writeback, _ = side.folios[folio]
            if not (locked or writeback):
                return True
    return False


def needs_overflow(side: SideState, slots: list[Entry], cluster_size: int) -> bool:
    """Whether a dup of `slots` needs new overflow storage on `side`: a slot goes 14 -> 15 in a
    cluster where no slot has count >= 15 yet."""
    for slot in slots:
        if side.count(slot) != 14:
            continue
        base = slot.offset - slot.offset % cluster_size
        if all(side.count(Entry(slot.type, o)) < 15 for o in range(base, base + cluster_size)):
            return True
    return False


def large_alloc_devices(side: SideState) -> list[int]:
    """The devices a large allocation of `side` may be confined to: it tries one device (the
    head of the avail list, which rotates among equal priorities), so each device of the
    highest priority on the avail list."""
    avail = {t: d["priority"] for t, d in side.devices.items() if d["on_avail"]}
    if not avail:
        return []
    top = max(avail.values())
    return sorted(t for t, p in avail.items() if p == top)


def device_choice_problem(
    side: SideState, placed: int, order: int, last_device: int | None, cluster_size: int
) -> str | None:
    """Why `side`, in its state before the call, had no reason to place a folio of `order`
    on device `placed`, or None when it had one (`--same-device`, the default).

    A policy may stay on `last_device`, the solid-state device it last allocated that order
    from (the per-CPU hint's device, which the kernel's fast path uses whatever its priority,
    until swapoff_end of that device), or take
    the device the priority-ordered slow path reaches: for order 0 any device on the avail
    list whose every device of higher priority had no `usable_range` (devices of one priority
    rotate in an order the allocation history decides); for a larger order, which tries one
    device and never falls back, a device of the highest priority on the avail list."""
    if placed == last_device:
        return None
    dev = side.devices[placed]
    if order > 0:
        top = large_alloc_devices(side)
        if placed in top:
            return None
        highest = side.devices[top[0]]["priority"] if top else None
        return (
            f"an order-{order} folio tries one device of the highest priority on the avail list "
            f"({highest}), not device {placed} (priority {dev['priority']}), and device {placed} "
            f"is not where the candidate last allocated that order (device {last_device})"
        )
    ahead = [t for t, d in sorted(side.devices.items()) if d["on_avail"] and d["priority"] > dev["priority"]]
    for t in ahead:
        found = usable_range(side, 0, cluster_size, devices=[t], waits_for_discard=False)
        if found is not None:
            return (
                f"device {t} (priority {side.devices[t]['priority']}) comes before device {placed} "
                f"(priority {dev['priority']}) and had a free slot at {found}, and device {placed} is "
                f"not where the candidate last allocated that order (device {last_device})"
            )
    return None


def may_reclaim(side: SideState, folio: int, call: Call) -> str | None:
    """Why `side` may not have dropped `folio` (cached before `call`) from its swap cache
    during `call`, or None if try-reclaim could have (TTRS_ANYWAY: every slot at count 0, not
    locked, not under writeback, storage not suspended; the reclaim work: on its device)."""
    order, entry, locked, writeback, _ = side.folios[folio]
    assert entry is not None
    if call.name not in POLICY_CALLS:
        return f"{call.name} never reclaims by policy"
    counts = [side.count(Entry(entry.type, entry.offset + i)) for i in range(1 << order)]
    if any(counts):
        return f"its slots had counts {counts}"
    if locked:
        return "it was locked"
    if writeback:
        return "it was under writeback"
    if side.globals["pm_suspended_storage"]:
        return "storage was suspended (pm_suspended_storage)"
    if call.name == "swap_reclaim_work" and call.kwargs.get("type") != entry.type:
        return f"the reclaim work ran on device {call.kwargs.get('type')}, the folio is on {entry.type}"
    return None


# --------------------------------------------------------------------------------------------
# The comparator
# --------------------------------------------------------------------------------------------


class AccountingStepper:
    """`fuzz.replay.Stepper`'s interface at the accounting level (see the module docstring).

    Both contract snapshots are read after every state-changing call (the comparison needs
    them, and they are the pre-state the next call is translated and judged against); both
    `check_invariants()` run every `full_every` state-changing calls and at `finish()`."""

    level = ACCOUNTING

    def __init__(
        self,
        reference: SwapImpl,
        candidate: SwapImpl,
        *,
        invariants: bool = True,
        full_every: int = 1,
        same_device: bool = True,
    ) -> None:
        self.reference = reference
        self.candidate = candidate
        self.invariants = invariants
        self.full_every = max(1, full_every)
        self.same_device = same_device
        self.cluster_size = reference.cluster_size
        self.pairing = Pairing()
        self.steps = 0
        self.calls: list[Call] = []
        self.backstop_hit = False
        self.forks = 0  # justified forks closed so far
        # The solid-state device the candidate last allocated each order from (its per-CPU
        # hint's device).
        self._last_device: dict[int, int] = {}
        self._since_full = 0
        self._ref_digest_of = digest_reader(reference, "contract")
        self._cand_digest_of = digest_reader(candidate, "contract")
        self._ref_digest = self._ref_digest_of()
        self._cand_digest = self._cand_digest_of()
        self._ref = SideState.of(reference)
        self._cand = SideState.of(candidate)

    # ---- the Stepper interface ----

    @property
    def reference_digest(self) -> str:
        """The reference's contract `snapshot().digest()`, what accounting traces record."""
        return self.reference.snapshot("contract").digest()

    @property
    def reference_state_digest(self) -> int:
        return self._ref_digest

    def step(self, call: Call) -> tuple[int | None, StepDivergence | None]:
        ran, divergence = self.check(call)
        return ran.result, divergence

    def check_initial(self) -> StepDivergence | None:
        return self._compare_states(-1, None, None, None) or self._check_invariants(-1, None)

    def finish(self) -> StepDivergence | None:
        if not self.calls:
            return None
        found = self._check_invariants(self.steps - 1, self.calls[-1])
        self.backstop_hit = found is not None
        return found

    def contiguous(self, entry: Entry, nr: int) -> bool:
        """True when the candidate holds the logical range [entry, entry + nr) as one aligned
        range too, so a large swap-in of it can be given to both (the world asks first)."""
        try:
            self._large_image(entry, nr)
        except Untranslatable:
            return False
        return True

    def held_on(self, entry: Entry, type: int) -> bool:
        """True when the candidate holds logical `entry` on device `type` (the world's
        swapoff unuses both sides' entries of the device)."""
        image = self.pairing.fwd.get(entry)
        return image is not None and image.type == type

    def check(self, call: Call) -> tuple[Ran, StepDivergence | None]:
        index = self.steps
        self.steps += 1
        self.calls.append(call)
        try:
            cand_calls = self._translate(call)
        except Untranslatable as err:
            # Nothing runs: neither side can be given this call in its own entries.
            return Ran(None, "untranslatable"), StepDivergence(
                index, call, "untranslatable", None, None, [], str(err)
            )
        ran = _run_full(self.reference, call)
        cand = self._run_candidate(cand_calls)
        found = self._exception(index, call, ran, cand)
        if found is not None:
            return ran, found
        ran, found = self._results(index, call, ran, cand, cand_calls)
        if found is not None or call.name in QUERY_CALLS:
            return ran, found
        if call.name == "swapoff_end" and ran.result == 0:
            # swapoff_end clears the per-CPU hints that name the device.
            self._last_device = {o: t for o, t in self._last_device.items() if t != call.kwargs["type"]}
        return ran, self._after_change(index, call, ran, cand, cand_calls)

    # ---- translation ----

    def _translate(self, call: Call) -> list[Call]:
        entry = call.kwargs.get("entry")
        if not isinstance(entry, Entry):
            return [call]
        if call.name == "swap_put_entries_direct":
            return self._translate_put(call, entry)
        order = call.kwargs.get("order")
        if call.name == "swapin_folio" and isinstance(order, int) and order > 0:
            return [self._translate_large(call, entry, order)]
        return [_with_entry(call, self._cand_entry(entry))]

    def _cand_entry(self, entry: Entry) -> Entry:
        """The candidate's entry for a logical one: its pair; for an unpaired (free, BAD or
        out-of-range) entry the same entry when the candidate has not paired it, else a free
        unpaired slot of the candidate, on that device if it has one (the stand-in answers a
        call on a free slot as the logical entry does), else on another."""
        paired = self.pairing.fwd.get(entry)
        if paired is not None:
            return paired
        if entry not in self.pairing.back:
            return entry
        devices = sorted(self._cand.devices, key=lambda t: t != entry.type)
        for t in devices:
            for off in range(1, self._cand.devices[t]["max"]):
                other = Entry(t, off)
                if other not in self._cand.slots and other not in self.pairing.back:
                    return other
        return entry

    def _translate_put(self, call: Call, entry: Entry) -> list[Call]:
        nr = call.kwargs.get("nr")
        dev = self._ref.devices.get(entry.type)
        if (
            not isinstance(nr, int)
            or nr < 1
            or dev is None
            or entry.offset < 0
            or entry.offset + nr > dev["max"]
        ):
            return [call]  # the argument checks fail alike on both sides
        pages = [Entry(entry.type, entry.offset + i) for i in range(nr)]
        for page in pages:
            row = self._ref.slots.get(page)
            if row is None or row[0] == SLOT_BAD or row[1] < 1:
                # The reference rejects the call at this slot and changes nothing: give the
                # candidate the one slot it fails on.
                return [Call(call.name, {"entry": self._cand_entry(page), "nr": 1})]
        runs: list[list[Entry]] = []
        for page in pages:
            image = self.pairing.fwd[page]
            last = runs[-1][-1] if runs else None
            if last is not None and image.type == last.type and image.offset == last.offset + 1:
                runs[-1].append(image)
            else:
                runs.append([image])
        return [Call(call.name, {"entry": run[0], "nr": len(run)}) for run in runs]

    def _translate_large(self, call: Call, entry: Entry, order: int) -> Call:
        nr = 1 << order
        dev = self._ref.devices.get(entry.type)
        if dev is None or not 0 <= entry.offset < dev["max"]:
            return call
        base = entry.offset - entry.offset % nr
        pages = [Entry(entry.type, base + i) for i in range(nr)]
        if any(self._ref.is_bad(p) for p in pages):
            return call  # bad-slot on both: the BAD layout is the same
        image = self._large_image(Entry(entry.type, base), nr)
        return _with_entry(call, Entry(image.type, image.offset + entry.offset - base))

    def _large_image(self, base: Entry, nr: int) -> Entry:
        pages = [Entry(base.type, base.offset + i) for i in range(nr)]
        images = [self.pairing.fwd.get(p) for p in pages]
        if all(i is None for i in images):
            if any(p in self.pairing.back for p in pages):
                raise Untranslatable(f"the candidate uses slots of the free logical range {base}+{nr}")
            return base
        if any(i is None for i in images):
            # A free slot in the range: the reference returns 0 and changes nothing; so does
            # the candidate at a free slot whose aligned range holds no BAD slot.
            free = self._cand_entry(pages[images.index(None)])
            start = free.offset - free.offset % nr
            if any(self._cand.is_bad(Entry(free.type, start + i)) for i in range(nr)):
                raise Untranslatable(f"no candidate range stands for the partly free range {base}+{nr}")
            return Entry(free.type, start)
        first = images[0]
        assert first is not None
        if first.offset % nr or any(i != Entry(first.type, first.offset + k) for k, i in enumerate(images)):
            raise Untranslatable(
                f"the candidate holds the logical range {base}+{nr} apart: {', '.join(map(str, images))}"
            )
        return first

    # ---- running and results ----

    def _run_candidate(self, calls: list[Call]) -> Ran:
        ran = Ran(None, None)
        for sub in calls:
            ran = _run_full(self.candidate, sub)
            if ran.error is not None or ran.result != 0:
                break
        return ran

    def _exception(self, index: int, call: Call, ref: Ran, cand: Ran) -> StepDivergence | None:
        if cand.error and cand.error.startswith(f"{CallHung.__name__}:"):
            return StepDivergence(index, call, "hang", ref.result, cand.error)
        if ref.error or cand.error:
            side = "reference" if ref.error else "candidate"
            kind = f"exception:{side}:{(ref.error or cand.error or '').split(':')[0]}"
            return StepDivergence(index, call, kind, ref.error or ref.result, cand.error or cand.result)
        return None

    def _results(
        self, index: int, call: Call, ref: Ran, cand: Ran, cand_calls: list[Call]
    ) -> tuple[Ran, StepDivergence | None]:
        assert ref.result is not None and cand.result is not None
        ref_code, cand_code = contract_code_of_result(ref.result), contract_code_of_result(cand.result)
        if ref_code or cand_code:
            if ref_code == cand_code:
                return ref, None
            kind = f"contract:{ref_code or 'ok'}!={cand_code or 'ok'}"
            return ref, self._divergence(index, call, kind, ref, cand, cand_calls)
        if call.name == "folio_entry":
            expected = None if ref.value is None else self.pairing.fwd.get(ref.value)
            if cand.value == expected and (ref.value is None) == (cand.value is None):
                return ref, None
            detail = (
                f"the candidate's entry is {cand.value}; the reference's {ref.value} pairs with {expected}"
            )
            return ref, self._divergence(index, call, "result", ref, cand, cand_calls, detail)
        if call.name == "swap_alloc_hibernation_slot" and (ref.value is None) != (cand.value is None):
            return self._hibernation_fork(index, call, ref, cand, cand_calls)
        if call.name == "folio_alloc_swap" and {ref.value, cand.value} == {0, -ENOMEM}:
            return self._allocation_fork(index, call, ref, cand, cand_calls)
        if (
            call.name in DUP_CALLS
            and call.kwargs.get("alloc_fails")
            and {ref.value, cand.value} <= {0, -ENOMEM}
        ):
            return self._overflow_fork(index, call, ref, cand, cand_calls)
        if call.name == "swap_alloc_hibernation_slot" or ref.result == cand.result:
            return ref, None
        return ref, self._divergence(index, call, "result", ref, cand, cand_calls)

    def _allocation_fork(
        self, index: int, call: Call, ref: Ran, cand: Ran, cand_calls: list[Call]
    ) -> tuple[Ran, StepDivergence | None]:
        failed_ref = ref.value != 0
        side = self._ref if failed_ref else self._cand
        order = side.folios[call.kwargs["folio"]][0]
        if order == 0:
            found = usable_range(side, 0, self.cluster_size, devices=sorted(side.devices))
        else:
            # A large allocation may be confined to the first device it tries, so the failure
            # is justified when one of the devices it might have tried had no usable range.
            ranges = [
                usable_range(side, order, self.cluster_size, devices=[t]) for t in large_alloc_devices(side)
            ]
            found = ranges[0] if ranges and all(ranges) else None
        if found is not None:
            name = "reference" if failed_ref else "candidate"
            detail = (
                f"the {name} returned -ENOMEM for an order-{order} folio, but its state before the "
                f"call had a usable free range at {found}"
            )
            return ref, self._divergence(index, call, "result", ref, cand, cand_calls, detail)
        keeper = self.candidate if failed_ref else self.reference
        if failed_ref:  # the candidate's hint now points where it allocated, as after a success
            got = self.candidate.folio_entry(call.kwargs["folio"])
            if got is not None:
                self._note_allocation(order, got.type)
        undo = Call("swap_cache_del_folio", {"folio": call.kwargs["folio"], "shadow": 0})
        undone = _run_full(keeper, undo)
        if undone.error is not None or undone.result != 0:
            detail = f"closing the fork: {undo} on the succeeding side gave {undone.error or undone.value}"
            return ref, self._divergence(index, call, "exception:harness:fork", ref, cand, cand_calls, detail)
        self.forks += 1
        failed = ref if failed_ref else cand
        return Ran(failed.result, None, failed.value), None

    def _overflow_fork(
        self, index: int, call: Call, ref: Ran, cand: Ran, cand_calls: list[Call]
    ) -> tuple[Ran, StepDivergence | None]:
        """A dup with `alloc_fails` fails iff a slot goes 14 -> 15 in a cluster holding no
        count >= 15 yet (the cluster's overflow storage, MODEL.md "Counts"): which cluster
        that is the policy decides, so each side is checked on its own slots, and a fork in
        the outcome is closed toward the failure."""
        for name, side, ran, slots in (
            ("reference", self._ref, ref, self._dup_slots(call, self._ref, logical=True)),
            ("candidate", self._cand, cand, self._dup_slots(call, self._cand, logical=False)),
        ):
            needs = needs_overflow(side, slots, self.cluster_size)
            if needs != (ran.value == -ENOMEM):
                detail = (
                    f"the {name} returned {ran.value} for a dup with alloc_fails, but its slots "
                    f"{', '.join(map(str, slots))} {'need' if needs else 'do not need'} new overflow storage"
                )
                return ref, self._divergence(index, call, "result", ref, cand, cand_calls, detail)
        if ref.value == cand.value:
            return ref, None
        if ref.value == 0:
            keeper, undo_on = self.reference, call
        else:
            keeper, undo_on = self.candidate, cand_calls[0]
        if call.name == "swap_dup_entry_direct":
            undo = Call("swap_put_entries_direct", {"entry": undo_on.kwargs["entry"], "nr": 1})
        else:
            undo = Call("folio_put_swap", {"folio": call.kwargs["folio"], "page": call.kwargs.get("page")})
        undone = _run_full(keeper, undo)
        if undone.error is not None or undone.result != 0:
            detail = f"closing the fork: {undo} gave {undone.error or undone.value}"
            return ref, self._divergence(index, call, "exception:harness:fork", ref, cand, cand_calls, detail)
        self.forks += 1
        failed = cand if ref.value == 0 else ref
        return Ran(failed.result, None, failed.value), None

    def _dup_slots(self, call: Call, side: SideState, *, logical: bool) -> list[Entry]:
        if call.name == "swap_dup_entry_direct":
            entry = call.kwargs["entry"]
            return [entry if logical else self._cand_entry(entry)]
        order, entry, *_ = side.folios[call.kwargs["folio"]]
        assert entry is not None
        page = call.kwargs.get("page")
        pages = range(1 << order) if page is None else [page]
        return [Entry(entry.type, entry.offset + i) for i in pages]

    def _hibernation_fork(
        self, index: int, call: Call, ref: Ran, cand: Ran, cand_calls: list[Call]
    ) -> tuple[Ran, StepDivergence | None]:
        failed_ref = ref.value is None
        side, other = (self._ref, self._cand) if failed_ref else (self._cand, self._ref)
        type_ = call.kwargs.get("type")
        dev = found = None
        if isinstance(type_, int):
            dev = other.devices.get(type_)
            found = (
                None
                if dev is None
                else usable_range(side, 0, self.cluster_size, devices=[type_], waits_for_discard=False)
            )
        if dev is None or not dev["writeok"] or found is not None:
            failed, got = ("reference", "candidate") if failed_ref else ("candidate", "reference")
            detail = f"only the {got} got a hibernation slot on device {type_}, which cannot give one"
            if found is not None:
                detail = f"the {failed} found no hibernation slot on device {type_}, but {found} was free"
            return ref, self._divergence(index, call, "result", ref, cand, cand_calls, detail)
        keeper, got = (self.candidate, cand.value) if failed_ref else (self.reference, ref.value)
        if failed_ref:
            self._note_allocation(0, got.type)
        undone = _run_full(keeper, Call("swap_free_hibernation_slot", {"entry": got}))
        if undone.error is not None or undone.result != 0:
            detail = f"closing the fork: freeing {got} gave {undone.error or undone.value}"
            return ref, self._divergence(index, call, "exception:harness:fork", ref, cand, cand_calls, detail)
        self.forks += 1
        return Ran(encode_result(call.name, None), None, None), None

    # ---- after a state-changing call ----

    def _after_change(
        self, index: int, call: Call, ran: Ran, cand: Ran, cand_calls: list[Call]
    ) -> StepDivergence | None:
        before_ref, before_cand = self._ref, self._cand
        try:
            digests = self._ref_digest_of(), self._cand_digest_of()
            if digests == (self._ref_digest, self._cand_digest):
                # Neither contract state changed (a third of the calls): nothing to compare.
                return self._count_change(index, call)
            after_ref, after_cand = SideState.of(self.reference), SideState.of(self.candidate)
        except Exception as err:
            detail = f"snapshot: {type(err).__name__}: {' '.join(str(err).split())}"
            return StepDivergence(
                index, call, f"exception:snapshot:{type(err).__name__}", ran.result, cand.result, [], detail
            )
        if contract_code_of_result(ran.result or 0) is not None:
            for name, before, after in (
                ("reference", before_ref, after_ref),
                ("candidate", before_cand, after_cand),
            ):
                if before.data != after.data:
                    changes = diff(before.data, after.data)
                    detail = f"the rejected call changed the {name}'s snapshot"
                    return StepDivergence(
                        index, call, "misuse-state", ran.result, cand.result, changes, detail
                    )
            return None
        self._ref_digest, self._cand_digest = digests
        if call.name in POLICY_CALLS:
            found = self._reclaim_forks(
                index, call, ran, cand, cand_calls, before_ref, before_cand, after_ref, after_cand
            )
            if found is not None:
                return found
            after_ref, after_cand = self._ref, self._cand
        self._ref, self._cand = after_ref, after_cand
        found = self._pair_new(index, call, ran, cand, cand_calls, before_cand)
        if found is None:
            found = self._compare_states(index, call, ran, cand, cand_calls)
        if found is not None:
            return found
        self.pairing.dissolve_free(self._ref, self._cand)
        return self._count_change(index, call)

    def _count_change(self, index: int, call: Call) -> StepDivergence | None:
        """Both invariants every `full_every` state-changing calls."""
        self._since_full += 1
        if self._since_full < self.full_every:
            return None
        found = self._check_invariants(index, call)
        self.backstop_hit = found is not None
        return found

    def _reclaim_forks(
        self,
        index: int,
        call: Call,
        ran: Ran,
        cand: Ran,
        cand_calls: list[Call],
        before_ref: SideState,
        before_cand: SideState,
        after_ref: SideState,
        after_cand: SideState,
    ) -> StepDivergence | None:
        """Close every fork of a policy call in which side reclaimed which cached folio."""
        undo: list[tuple[str, int]] = []
        for folio, row in before_ref.folios.items():
            if row[1] is None:
                continue
            ref_kept = _cached(after_ref, folio)
            cand_kept = _cached(after_cand, folio)
            if ref_kept == cand_kept:
                continue
            dropper, before = ("candidate", before_cand) if ref_kept else ("reference", before_ref)
            why = may_reclaim(before, folio, call)
            if why is not None:
                detail = f"folio {folio} left the {dropper}'s swap cache, which it may not do here: {why}"
                self._ref, self._cand = after_ref, after_cand
                return self._divergence(index, call, "state", ran, cand, cand_calls, detail, diff=True)
            undo.append(("reference" if ref_kept else "candidate", folio))
        for side, folio in undo:
            impl = self.reference if side == "reference" else self.candidate
            done = _run_full(impl, Call("swap_cache_del_folio", {"folio": folio, "shadow": 0}))
            if done.error is not None or done.result != 0:
                outcome = done.error or done.value
                detail = f"closing the fork: dropping folio {folio} from the {side}'s cache gave {outcome}"
                return StepDivergence(
                    index, call, "exception:harness:fork", ran.result, cand.result, [], detail
                )
            self.forks += 1
        self._ref = SideState.of(self.reference) if any(s == "reference" for s, _ in undo) else after_ref
        self._cand = SideState.of(self.candidate) if any(s == "candidate" for s, _ in undo) else after_cand
        if undo:
            self._ref_digest, self._cand_digest = self._ref_digest_of(), self._cand_digest_of()
        return None

    def _pair_new(
        self, index: int, call: Call, ran: Ran, cand: Ran, cand_calls: list[Call], before: SideState
    ) -> StepDivergence | None:
        """Pair the entries the call gave out: a folio's, page by page, or a hibernation slot."""
        if call.name == "folio_alloc_swap" and ran.value == 0 and cand.value == 0:
            folio = call.kwargs["folio"]
            ref_row, cand_row = self._ref.folios.get(folio), self._cand.folios.get(folio)
            if ref_row is None or cand_row is None or ref_row[1] is None or cand_row[1] is None:
                return None  # the state comparison reports it
            order = ref_row[0]
            found = self._placement_problem(call, before, ref_row[1], cand_row[1], order)
            return self._pair(index, call, ran, cand, cand_calls, ref_row[1], cand_row[1], order, found)
        if (
            call.name == "swap_alloc_hibernation_slot"
            and isinstance(ran.value, Entry)
            and isinstance(cand.value, Entry)
        ):
            found = self._placement_problem(call, before, ran.value, cand.value, 0)
            return self._pair(index, call, ran, cand, cand_calls, ran.value, cand.value, 0, found)
        return None

    def _pair(
        self,
        index: int,
        call: Call,
        ran: Ran,
        cand: Ran,
        cand_calls: list[Call],
        ref: Entry,
        got: Entry,
        order: int,
        problem: str | None,
    ) -> StepDivergence | None:
        nr = 1 << order
        pairs = [(Entry(ref.type, ref.offset + i), Entry(got.type, got.offset + i)) for i in range(nr)]
        for r, c in pairs if problem is None else ():
            owner = self.pairing.back.get(c)
            if owner is not None and owner != r and owner in self._ref.slots and not _taken_by(pairs, owner):
                problem = (
                    f"the candidate returned {c} for logical {r}, but {c} is already paired with "
                    f"logical {owner} (reference {owner}: {self._ref.slots[owner]}, still in use)"
                )
                break
        if problem is not None:
            return self._divergence(index, call, "pairing", ran, cand, cand_calls, problem)
        for r, c in pairs:
            # A slot freed and given out again within the call leaves a stale pair behind.
            if r in self.pairing.fwd:
                self.pairing.drop(r)
            if c in self.pairing.back:
                self.pairing.drop(self.pairing.back[c])
            self.pairing.pair(r, c, order)
        self._note_allocation(order, got.type)
        return None

    def _note_allocation(self, order: int, type_: int) -> None:
        """The candidate allocated an order-`order` folio on device `type_`: on a solid-state
        device that makes it the per-CPU hint's device (a rotational one keeps its own hint
        in the device and leaves the per-CPU one alone)."""
        if self._cand.devices.get(type_, {}).get("solidstate"):
            self._last_device[order] = type_

    def _placement_problem(
        self, call: Call, before: SideState, ref: Entry, got: Entry, order: int
    ) -> str | None:
        """Why the candidate's entry `got` (for the reference's `ref`) is misplaced, judged
        on the candidate's state `before` the call, or None."""
        nr = 1 << order
        dev = before.devices.get(got.type)
        if got.offset % nr:
            return f"the candidate's entry {got} for an order-{order} folio is not aligned to {nr} slots"
        if dev is None or not dev["writeok"]:
            state = "not swapped on" if dev is None else "not writable (swapoff in progress)"
            return f"the candidate allocated {got} on device {got.type}, which was {state}"
        if call.name == "swap_alloc_hibernation_slot":
            wanted = call.kwargs.get("type")
            if got.type != wanted:
                return f"the candidate gave a hibernation slot of device {wanted} on device {got.type}"
            return None
        if not self.same_device or got.type == ref.type:
            return None
        why = device_choice_problem(before, got.type, order, self._last_device.get(order), self.cluster_size)
        if why is None:
            return None
        return (
            f"the candidate placed logical {ref} on device {got.type}, the reference on device "
            f"{ref.type}: {why} (--no-same-device allows it)"
        )

    # ---- the comparison ----

    def _compare_states(
        self,
        index: int,
        call: Call | None,
        ran: Ran | None,
        cand: Ran | None,
        cand_calls: list[Call] | None = None,
    ) -> StepDivergence | None:
        lines = self._state_diff()
        if not lines:
            return None
        return self._divergence(index, call, "state", ran, cand, cand_calls or [], "", lines=lines)

    def _state_diff(self) -> list[str]:
        ref, cand, back = self._ref, self._cand, self.pairing.back
        lines = [
            f"{k}: {ref.globals[k]!r} != {cand.globals[k]!r}"
            for k in ref.globals
            if ref.globals[k] != cand.globals.get(k)
        ]
        for t in sorted(set(ref.devices) | set(cand.devices)):
            da, db = ref.devices.get(t, {}), cand.devices.get(t, {})
            placed_apart = bool(da) and bool(db) and da["inuse"] != db["inuse"]
            # A full writable device may be on the avail list or off it: swapoff_abort puts it
            # back whatever its use, and only an allocation that fills it takes it off, so
            # which it is depends on when each side filled it.
            full = bool(da) and bool(db) and not placed_apart and da["writeok"] and da["inuse"] >= da["pages"]
            for key in sorted(set(da) | set(db)):
                if (key in PLACEMENT_KEYS and placed_apart) or (key == "on_avail" and full):
                    continue  # checked on each side below
                if da.get(key) != db.get(key):
                    lines.append(f"device {t} {key}: {da.get(key)!r} != {db.get(key)!r}")
            if placed_apart or full:
                lines += _device_facts("reference", ref, t) + _device_facts("candidate", cand, t)
        logical: dict[tuple[int, int], tuple] = {}
        for c, row in cand.slots.items():
            r = c if row[0] == SLOT_BAD else back.get(c)
            if r is None:
                lines.append(
                    f"candidate slot {Entry(*c)} {_row(row)} is in use, no logical entry paired with it"
                )
            else:
                logical[r] = row
        if logical != ref.slots:
            for r in sorted(set(ref.slots) | set(logical)):
                a, b = ref.slots.get(r), logical.get(r)
                if a != b:
                    shown = self.pairing.fwd.get(r, r)
                    lines.append(f"slot {Entry(*r)} (candidate {Entry(*shown)}): {_row(a)} != {_row(b)}")
        for folio in sorted(set(ref.folios) | set(cand.folios)):
            fa: tuple | None = ref.folios.get(folio)
            fb: tuple | None = cand.folios.get(folio)
            if fb is not None and fb[1] is not None:
                fb = (fb[0], back.get(fb[1], f"unpaired {fb[1]}"), *fb[2:])
            if fa != fb:
                lines.append(f"folio {folio} (order, entry, locked, writeback, mapped): {fa} != {fb}")
        return lines

    def _check_invariants(self, index: int, call: Call | None) -> StepDivergence | None:
        self._since_full = 0
        if not self.invariants:
            return None
        for side, impl in (("reference", self.reference), ("candidate", self.candidate)):
            broken = _invariants(impl)
            if broken:
                return StepDivergence(index, call, f"invariant:{side}", None, None, [], broken)
        return None

    def _divergence(
        self,
        index: int,
        call: Call | None,
        kind: str,
        ran: Ran | None,
        cand: Ran | None,
        cand_calls: list[Call],
        detail: str = "",
        *,
        lines: list[str] | None = None,
        diff: bool = False,
    ) -> StepDivergence:
        if lines is None and diff:
            lines = self._state_diff()
        if call is not None and cand_calls and [str(c) for c in cand_calls] != [str(call)]:
            sent = "; ".join(map(str, cand_calls))
            detail = f"{detail}; candidate ran {sent}" if detail else f"candidate ran {sent}"
        return StepDivergence(
            index,
            call,
            kind,
            None if ran is None else ran.result,
            None if cand is None else cand.result,
            lines or [],
            detail,
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _device_facts(name: str, side: SideState, t: int) -> list[str]:
    """A device's placement-decided fields against that side's own slots: `inuse` counts its
    used (not BAD) slots; a device on the avail list is writable, and a writable one that is
    not full is on it (a full one may be: swapoff_abort puts a device back whatever its use)."""
    dev = side.devices[t]
    used = sum(1 for (type_, _), row in side.slots.items() if type_ == t and row[0] != SLOT_BAD)
    lines = []
    if dev["inuse"] != used:
        lines.append(f"device {t} inuse: {dev['inuse']} on the {name}'s side, which uses {used} slots there")
    if dev["on_avail"] != dev["writeok"] and (dev["on_avail"] or dev["inuse"] < dev["pages"]):
        lines.append(
            f"device {t} on_avail: {dev['on_avail']} on the {name}'s side, with writeok {dev['writeok']} "
            f"and {dev['inuse']} of {dev['pages']} pages in use"
        )
    return lines


def _with_entry(call: Call, entry: Entry) -> Call:
    return call if call.kwargs["entry"] == entry else Call(call.name, {**call.kwargs, "entry": entry})


def _cached(side: SideState, folio: int) -> bool:
    row = side.folios.get(folio)
    return row is not None and row[1] is not None


def _taken_by(pairs: list[tuple[Entry, Entry]], ref: Entry) -> bool:
    return any(r == ref for r, _ in pairs)


def _row(row: tuple | None) -> str:
    if row is None:
        return "free"
    state, count, folio, shadow = row
    return f"{state} count={count} folio={folio} shadow={shadow}"
