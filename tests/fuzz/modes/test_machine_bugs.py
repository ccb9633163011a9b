"""The machine must catch real bugs: the optimized implementation with one bug injected.

Each class below subclasses `OptimizedSwap` and changes one call so that its observable
behaviour is a known bug, by post-corrupting the live state arrays with the implementation's
own kernels (`self._S`, layout in optimized.kernels).  The test runs the differential machine
against it and asserts the failure is a `Divergence` whose message names the call and shows
the snapshot difference.  Shrinking is off here: each bug is found within a few seconds, but
shrinking a stateful failure replays it hundreds of times (minutes), which the CI budget does
not allow; the lockstep message already shows the step, the call and the preceding calls.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from fuzz.lockstep import Divergence
from fuzz.modes.machine import make_machine
from fuzz.world import DeviceSpec, Geometry
from optimized import OptimizedSwap
from optimized import kernels as k
from reference.api import Entry
from reference.model import ReferenceSwap


class HibernationDoubleDecrement(OptimizedSwap):
    """4f78252da887..f5e31a196edc: hibernation allocation lowers nr_swap_pages twice."""

    def swap_alloc_hibernation_slot(self, type):
        entry = super().swap_alloc_hibernation_slot(type)
        if entry is not None:
            self._S[0][k.G_NR] -= 1
        return entry


class PutFreesCachedSlot(OptimizedSwap):
    """folio_put_swap frees a slot whose count reaches 0 although the folio still caches it."""

    def folio_put_swap(self, folio, page=None):
        result = super().folio_put_swap(folio, page)
        G, FO, FH = self._S[0], self._S[5], self._S[6]
        entry = self.folio_entry(folio)
        nr = 1 << int(FO[k.folio_lookup(G, FO, FH, folio), k.F_ORDER])
        for p in range(nr) if page is None else (page,):
            slot = Entry(entry.type, entry.offset + p)
            if self.swap_count(slot) == 0:
                k.swap_entries_free(self._S, slot.type, slot.offset, 1)
        return result


class LargeFolioAcrossClusters(OptimizedSwap):
    """A large folio gets a free range that straddles two clusters (unaligned)."""

    def folio_alloc_swap(self, folio, *, charge_fails=False):
        G, FO, FH = self._S[0], self._S[5], self._S[6]
        row = k.folio_lookup(G, FO, FH, folio)
        if row >= 0 and FO[row, k.F_TYPE] < 0 and FO[row, k.F_ORDER] > 0 and not charge_fails:
            order = int(FO[row, k.F_ORDER])
            spot = self._straddling_range(order)
            if spot is not None:
                type, offset, cluster = spot
                k.cluster_alloc_range(self._S, type, cluster, row, offset, order)
                return 0
        return super().folio_alloc_swap(folio, charge_fails=charge_fails)

    def _straddling_range(self, order):
        G, SL = self._S[0], self._S[1]
        cs, nr = int(G[k.G_CS]), 1 << order
        for type in range(self.max_swapfiles):
            d = k.dev(type)
            if G[d + k.D_STATE] != 1 or not G[d + k.D_WRITEOK] or not G[d + k.D_BLK]:
                continue
            base, top = int(G[d + k.D_CBASE]), int(G[d + k.D_MAX])
            for boundary in range(cs, top, cs):
                off = boundary - nr // 2
                if off + nr <= top and all(
                    SL[base * cs + o] & k.TAG_MASK == k.TAG_FREE for o in range(off, off + nr)
                ):
                    return type, off, base + off // cs
        return None


GEOMETRY = Geometry(8, 2, (DeviceSpec(64), DeviceSpec(40, priority=1)))


def _failure(candidate: type, profile: str) -> str:
    machine = make_machine(ReferenceSwap, candidate, geometry=GEOMETRY, profile=profile)
    with pytest.raises(Divergence) as info:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=60, stateful_step_count=60, phases=[Phase.explicit, Phase.generate]
            ),
        )
    return str(info.value)


def test_catches_hibernation_double_decrement():
    message = _failure(HibernationDoubleDecrement, "hibernate")
    assert "swap_alloc_hibernation_slot" in message
    assert "nr_swap_pages" in message


def test_catches_put_freeing_a_cached_slot():
    message = _failure(PutFreesCachedSlot, "usemem")
    assert "folio_put_swap" in message
    assert "snapshot diff" in message


def test_catches_large_folio_across_a_cluster_boundary():
    message = _failure(LargeFolioAcrossClusters, "mthp")
    assert "folio_alloc_swap" in message
    assert "snapshot diff" in message
