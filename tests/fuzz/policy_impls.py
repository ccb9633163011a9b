"""Candidates for the accounting-level tests (`--impl tests.fuzz.policy_impls:X`).

Policy changes with a bug layered on top, and candidates that exercise each refinement rule of
`fuzz.accounting` from the wrong side: a difference of the kind a policy may make, without the
justification that makes it legitimate.  The correct policies are in `fuzz.policy_examples`.
"""

from __future__ import annotations

from fuzz.policy_examples import FreeClusterFirst, NoPercpuHint
from reference.api import ENOMEM, Entry
from reference.model import ReferenceSwap


class FreeFirstForkLoss(FreeClusterFirst):
    """FreeClusterFirst with a count lost on fork: duplicating an entry that is already
    shared (count >= 2) returns 0 without counting the new reference."""

    def swap_dup_entry_direct(self, entry, *, alloc_fails=False):
        if isinstance(entry, Entry) and self.swap_count(entry) >= 2 and not alloc_fails:
            self._entry(entry)  # the contract checks still run
            return 0
        return super().swap_dup_entry_direct(entry, alloc_fails=alloc_fails)


class HibernationSlotTwice(FreeClusterFirst):
    """Hands out the previous hibernation slot again (counted twice) while it is in use."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._last_hib = None

    def swap_alloc_hibernation_slot(self, type):
        last = self._last_hib
        if last is not None and last.type == type and self.swap_count(last) == 1:
            self.swap_dup_entry_direct(last)
            return last
        self._last_hib = super().swap_alloc_hibernation_slot(type)
        return self._last_hib


class NoLargeSwap(ReferenceSwap):
    """Refuses every large folio (-ENOMEM) even with free clusters: a failure the policy has
    no right to."""

    def folio_alloc_swap(self, folio, *, charge_fails=False):
        f = self._folio(folio)
        if f.order > 0 and f.entry is None:
            return -ENOMEM
        return super().folio_alloc_swap(folio, charge_fails=charge_fails)


class NoHibernation(ReferenceSwap):
    """Finds no hibernation slot on a device that has free slots."""

    def swap_alloc_hibernation_slot(self, type):
        return None


def _reclaimable(model, f, *, ignore_locks=False, ignore_counts=False):
    entry = f.entry
    if entry is None:
        return False
    si = model.devices[entry.type]
    counts = [si.count(entry.offset + i) for i in range(f.nr)]
    return (
        (ignore_counts or not any(counts))
        and (ignore_locks or not (f.locked or f.writeback))
        and not model.pm_suspended
    )


class EagerReclaim(ReferenceSwap):
    """Before every allocation, reclaims every cached folio try-reclaim could take (every slot
    at count 0, not locked, not under writeback): a legitimate reclaim policy."""

    ignore_locks = False
    ignore_counts = False

    def folio_alloc_swap(self, folio, *, charge_fails=False):
        self._folio(folio)
        self._reclaim_eagerly()
        return super().folio_alloc_swap(folio, charge_fails=charge_fails)

    def _reclaim_eagerly(self):
        for f in list(self.folios.values()):
            eligible = _reclaimable(self, f, ignore_locks=self.ignore_locks, ignore_counts=self.ignore_counts)
            if eligible and not f.writeback:
                self.swap_cache_del_folio(f.id, 0)


class ReclaimReferenced(EagerReclaim):
    """EagerReclaim that also drops folios whose slots are still referenced."""

    ignore_counts = True


class ReclaimLocked(EagerReclaim):
    """EagerReclaim that also drops locked folios."""

    ignore_locks = True


class EagerReclaimOnNew(EagerReclaim):
    """The same reclaim, on a call that never reclaims (folio_new)."""

    def folio_alloc_swap(self, folio, *, charge_fails=False):
        return ReferenceSwap.folio_alloc_swap(self, folio, charge_fails=charge_fails)

    def folio_new(self, folio, order):
        result = super().folio_new(folio, order)
        self._reclaim_eagerly()
        return result


class LowestPriorityFirst(ReferenceSwap):
    """The slow path walks the avail list from its lowest priority up: entries land on a
    device the kernel reaches only when every device before it has no room."""

    def _swap_alloc_slow(self, f, order):
        for type in reversed(list(self.avail)):
            si = self.devices[type]
            if not si.on_avail:
                continue
            if self._cluster_alloc_swap_entry(si, f, order):
                return
            if order > 0:
                return


class AllocatesDuringSwapoff(ReferenceSwap):
    """Its scan ignores writeok: allocation goes on on a device whose swapoff has begun."""

    def _alloc_swap_scan_cluster(self, si, ci, f, start, order):
        writeok, si.writeok = si.writeok, True
        try:
            return super()._alloc_swap_scan_cluster(si, ci, f, start, order)
        finally:
            si.writeok = writeok


class MiscountsInuse(NoPercpuHint):
    """NoPercpuHint whose device 1 counts every allocation one slot too many in `inuse`."""

    def _swap_range_alloc(self, si, nr):
        super()._swap_range_alloc(si, nr)
        if si.type == 1:
            si.inuse += 1


class GivesUpBesideCachedSlots(ReferenceSwap):
    """Fails an order-0 allocation whenever a device holds a cached count-0 slot, as if every
    scan reclaimed one and stopped (which a scan may do only when vm_swap_full())."""

    def folio_alloc_swap(self, folio, *, charge_fails=False):
        f = self._folio(folio)
        cached_free = any(si.count(off) == 0 for si in self.devices.values() for off in si.swap_cache)
        if f.order == 0 and f.entry is None and cached_free:
            return -ENOMEM
        return super().folio_alloc_swap(folio, charge_fails=charge_fails)


class FullDeviceStaysOnAvail(FreeClusterFirst):
    """FreeClusterFirst whose swapoff_begin leaves a full device on the avail list (a device
    being swapped off must leave it, full or not)."""

    def swapoff_begin(self, type):
        si = self.devices.get(type) if isinstance(type, int) else None
        full = si is not None and si.writeok and si.inuse >= si.pages
        result = super().swapoff_begin(type)
        if result == 0 and full:
            self._add_to_avail_list(si)
        return result


class RotationalHintAsPercpu(ReferenceSwap):
    """Points the per-CPU hint at rotational devices too (the kernel keeps a rotational
    device's hint in the device), so the fast path returns to a device of lower priority that
    the kernel would only reach by its slow path."""

    def _alloc_swap_scan_cluster(self, si, ci, f, start, order):
        found = super()._alloc_swap_scan_cluster(si, ci, f, start, order)
        if found and not si.solidstate:
            self.percpu_si[order] = si.type
            self.percpu_offset[order] = si.global_next[order]
        return found
