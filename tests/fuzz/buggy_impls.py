"""Deliberately buggy implementations for the campaign and CLI tests (`--impl tests.fuzz.buggy_impls:X`).

Each class overrides one API method of the reference model through the public API only, so
the bug does not depend on any implementation's internals, and each inherits `apply`: fast mode
must notice the override and run such a class op by op.
"""

from __future__ import annotations

from reference.model import ReferenceSwap


class HibernationLeak(ReferenceSwap):
    """Hibernation allocation takes a second slot: nr_swap_pages drops twice (bug catalogue 4)."""

    def swap_alloc_hibernation_slot(self, type):
        entry = super().swap_alloc_hibernation_slot(type)
        if entry is not None:
            super().swap_alloc_hibernation_slot(type)
        return entry


class PutFreesCached(ReferenceSwap):
    """A put that leaves every slot of the folio at count 0 also drops it from the swap cache."""

    def folio_put_swap(self, folio, page=None):
        result = super().folio_put_swap(folio, page)
        entry = self.folio_entry(folio)
        if entry is not None and self.swap_count(entry) == 0:
            self.folio_free_swap(folio)
        return result


class MappedNewFolios(ReferenceSwap):
    """Every new folio but the first starts with its `mapped` flag set: found within a few
    steps by any mode (even Hypothesis' first, simplest examples), so tests stay quick."""

    def folio_new(self, folio, order):
        result = super().folio_new(folio, order)
        if isinstance(folio, int) and folio >= 2:
            self.folio_set(folio, mapped=True)
        return result


class OffByOneCount(ReferenceSwap):
    """`swap_count` reports one too many for shared slots (count >= 2)."""

    def swap_count(self, entry):
        count = super().swap_count(entry)
        return count + 1 if count >= 2 else count


def _optimized_hibernation_leak() -> type:
    from optimized import OptimizedSwap

    class OptimizedHibernationLeak(OptimizedSwap):
        """`HibernationLeak` on the optimized implementation: one overridden method, inherited
        `apply` (a JIT batch kernel that would never call the override)."""

        def swap_alloc_hibernation_slot(self, type):
            entry = super().swap_alloc_hibernation_slot(type)
            if entry is not None:
                super().swap_alloc_hibernation_slot(type)
            return entry

    OptimizedHibernationLeak.__qualname__ = "OptimizedHibernationLeak"  # so --impl specs resolve
    return OptimizedHibernationLeak


def __getattr__(name: str):
    # Built on first use so importing this module never needs numba.
    if name == "OptimizedHibernationLeak":
        cls = _optimized_hibernation_leak()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


class SleepyFolioNew(ReferenceSwap):
    """Its 30th `folio_new` call never returns (a candidate stuck in an infinite loop)."""

    HANG_AT = 30

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.folio_news = 0

    def folio_new(self, folio, order):
        self.folio_news += 1
        if self.folio_news == self.HANG_AT:
            import time

            time.sleep(10**6)
        return super().folio_new(folio, order)


class SleepyBatch(ReferenceSwap):
    """Its own batch `apply` never returns from its second call (its methods are fine)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.applies = 0

    def apply(self, ops):
        self.applies += 1
        if self.applies == 2:
            import time

            time.sleep(10**6)
        return super().apply(ops)
