"""A seeded generator of API calls for the optimized-model tests and benchmarks.

`random_calls` looks at a `ReferenceSwap` it is driving to pick mostly valid arguments (live
folios, used slots, swapped-on types), with a share of misuse mixed in; the caller runs each
call on the reference before asking for the next.  Same seed and same reference state give
the same calls, on every platform.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

from reference.api import DISCARD_KINDS, Call, Entry, encode_call
from reference.model import ReferenceSwap


class CallGen:
    """Draw the next call from `rng` given the reference's current state."""

    def __init__(self, rng: random.Random, ref: ReferenceSwap, *, max_size: int | None = None):
        self.rng = rng
        self.ref = ref
        self.next_id = 1
        self.max_size = max_size or ref.cluster_size * 6

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _folio(self, cached: bool | None = None) -> int:
        ids = [f.id for f in self.ref.folios.values() if cached is None or (f.entry is not None) == cached]
        if not ids or self.rng.random() < 0.03:
            return (
                self.rng.choice([0, -3, self.next_id + 50, "x"])
                if self.rng.random() < 0.5
                else self._new_id()
            )
        return self.rng.choice(sorted(ids))

    def _used_entry(self) -> Entry:
        slots = [(t, off) for t, si in sorted(self.ref.devices.items()) for off in sorted(si.swap_map)]
        if not slots or self.rng.random() < 0.04:
            return self._any_entry()
        return Entry(*self.rng.choice(slots))

    def _any_entry(self) -> Entry:
        types = sorted(self.ref.devices)
        if not types or self.rng.random() < 0.1:
            return Entry(self.rng.randrange(-1, self.ref.max_swapfiles + 1), self.rng.randrange(-1, 40))
        t = self.rng.choice(types)
        return Entry(t, self.rng.randrange(-1, self.ref.devices[t].max + 1))

    def _type(self) -> int:
        types = sorted(self.ref.devices)
        if not types or self.rng.random() < 0.1:
            return self.rng.randrange(-1, self.ref.max_swapfiles + 1)
        return self.rng.choice(types)

    def _order(self) -> int:
        r = self.rng.random()
        if r < 0.6:
            return 0
        if r < 0.98:
            return self.rng.randrange(0, self.ref.pmd_order + 1)
        return self.rng.choice([-1, self.ref.pmd_order + 1])

    def swapon(self) -> Call:
        rng = self.rng
        size = rng.randrange(2, self.max_size + 1)
        bad = rng.sample(range(1, size), min(size - 1, rng.choice([0, 0, 0, 1, 2, 3])))
        if rng.random() < 0.05 and bad:
            bad.append(bad[0])
        return Call(
            "swapon",
            {
                "size": size if rng.random() > 0.03 else rng.choice([0, -1]),
                "priority": rng.choice([None, None, 0, 1, 5, -2]),
                "bad": tuple(bad),
                "solidstate": rng.random() < 0.7,
                "blkdev": rng.random() < 0.85,
                "discard": rng.choice([*DISCARD_KINDS, "none", "pages"]),
            },
        )

    def next(self) -> Call:
        rng = self.rng
        r = rng.random()
        if not self.ref.devices or r < 0.02:
            return self.swapon()
        r = rng.random()
        if r < 0.015:
            return Call("swapoff_begin", {"type": self._type()})
        if r < 0.03:
            return Call(rng.choice(["swapoff_end", "swapoff_abort"]), {"type": self._type()})
        if r < 0.05:
            return Call(rng.choice(["swap_discard_work", "swap_reclaim_work"]), {"type": self._type()})
        if r < 0.15:
            return Call(
                "folio_new",
                {"folio": self._new_id() if rng.random() > 0.03 else self._folio(), "order": self._order()},
            )
        if r < 0.28:
            return Call(
                "folio_alloc_swap", {"folio": self._folio(False), "charge_fails": rng.random() < 0.05}
            )
        if r < 0.42:
            page = None if rng.random() < 0.6 else rng.randrange(-1, 1 << (self.ref.pmd_order + 1))
            kw = {"folio": self._folio(True), "page": page}
            if rng.random() < 0.5:
                return Call("folio_put_swap", kw)
            return Call("folio_dup_swap", {**kw, "alloc_fails": rng.random() < 0.3})
        if r < 0.48:
            return Call("folio_free_swap", {"folio": self._folio(True)})
        if r < 0.56:
            shadow = rng.choice([0, 0, rng.randrange(1, 1000), rng.randrange(1 << 56, 1 << 62), -1])
            return Call("swap_cache_del_folio", {"folio": self._folio(True), "shadow": shadow})
        if r < 0.60:
            return Call("folio_drop", {"folio": self._folio(False)})
        if r < 0.64:
            return Call(
                "folio_set",
                {
                    "folio": self._folio(),
                    "locked": rng.choice([None, False, True, False]),
                    "writeback": rng.choice([None, False, False, True]),
                    "mapped": rng.choice([None, False, True]),
                },
            )
        if r < 0.69:
            return Call("swap_cache_alloc_folio", {"entry": self._used_entry(), "folio": self._new_id()})
        if r < 0.72:
            return Call(
                "swapin_folio", {"entry": self._used_entry(), "folio": self._new_id(), "order": self._order()}
            )
        if r < 0.80:
            return Call(
                "swap_put_entries_direct",
                {"entry": self._used_entry(), "nr": rng.choice([1, 1, 1, 2, 3, 5, 0])},
            )
        if r < 0.90:
            return Call(
                "swap_dup_entry_direct", {"entry": self._used_entry(), "alloc_fails": rng.random() < 0.3}
            )
        if r < 0.93:
            return Call("swap_alloc_hibernation_slot", {"type": self._type()})
        if r < 0.95:
            return Call("swap_free_hibernation_slot", {"entry": self._used_entry()})
        if r < 0.96:
            return Call("set_pm_suspended_storage", {"flag": rng.random() < 0.3})
        name = rng.choice(
            [
                "swap_count",
                "swap_cache_folio",
                "swap_shadow",
                "nr_swap_pages",
                "total_swap_pages",
                "folio_entry",
            ]
        )
        if name in ("nr_swap_pages", "total_swap_pages"):
            return Call(name, {})
        if name == "folio_entry":
            return Call(name, {"folio": self._folio()})
        return Call(name, {"entry": self._any_entry()})


def random_calls(seed: int, n: int, *, cluster_size: int = 8, max_swapfiles: int = 4) -> Iterator[Call]:
    """`n` encodable calls generated against a private reference (each runs on it before the next)."""
    ref = ReferenceSwap(cluster_size=cluster_size, max_swapfiles=max_swapfiles)
    gen = CallGen(random.Random(seed), ref)
    made = 0
    while made < n:
        call = gen.next()
        try:
            encode_call(call)
        except (TypeError, ValueError):
            continue  # misuse that has no op encoding (a str id, say): Python calls only
        made += 1
        with contextlib.suppress(Exception):  # misuse is part of the stream
            call.invoke(ref)
        yield call
