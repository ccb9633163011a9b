"""Boundary values: the integers at, just below and just above every limit of the packed layout.

An off-by-one at a field boundary of the optimized layout (`optimized.kernels`,
`optimized.state`) survives every ordinary draw: a shadow is a 12-bit number, a folio id a
small counter, a count rarely passes 20.  So every integer the world passes goes through
`draw_int`, which mixes ordinary draws with the limits of the field it lands in.  The limits
are the layout's own constants, imported here and never typed twice, so a layout change moves
the boundaries with it.

`draw_int` asks only `boolean`, `choice` and `integer` of its chooser, so one helper serves
the seeded `RandomChooser` of fast mode and the `HypothesisChooser` of the state machines
(where all-zero draws still give the ordinary value first: boundaries shrink away).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fuzz.choosers import Chooser
from optimized import kernels as k
from optimized import state as layout
from reference.api import ENTRY_SHIFT, MAX_SWAP_PRIO, SWAP_COUNT_OVERFLOW, VALUE_LIMIT

# The contract's limit and the layout's inline limit must be the same number, else the
# boundaries below would be drawn around the wrong value.
assert int(k.COUNT_MAX) == SWAP_COUNT_OVERFLOW

# How often a drawn integer is a boundary value instead of an ordinary draw.
BOUNDARY_P = 0.1

# ---- the limits of each field, from the layout's constants ----

# Slot payload: a shadow below SHADOW_BIG is stored inline, one at or above escapes to the BIG
# side table; the payload field ends at bit 63 (int64), the contract at VALUE_LIMIT.
SHADOW_LIMITS: tuple[int, ...] = (
    int(k.SHADOW_BIG),
    1 << (63 - int(k.PAYLOAD_SHIFT)),
    1 << int(k.WORD_BITS),
    1 << ENTRY_SHIFT,
    VALUE_LIMIT - 1,
)
# Folio ids index the open-addressing hash (a CACHED slot's payload is the folio's row, not its
# id): the word boundaries of the hash mixing and the contract's limit.
FOLIO_ID_LIMITS: tuple[int, ...] = (
    1 << int(k.WORD_BITS),
    1 << ENTRY_SHIFT,
    int(k.SHADOW_BIG),
    VALUE_LIMIT - 1,
)
# Swap counts: 4 inline bits with COUNT_MAX as the escape to the cluster's overflow row, and
# "far beyond": a count that would not fit a byte either.
COUNT_LIMITS: tuple[int, ...] = (
    int(k.COUNT_MAX),
    2 * (int(k.COUNT_MAX) + 1),
    (int(k.COUNT_MAX) + 1) ** 2,
)
# A count the labels call "far beyond" the inline field.
FAR_COUNT = (int(k.COUNT_MAX) + 1) ** 2
PRIORITY_LIMITS: tuple[int, ...] = (0, 1, MAX_SWAP_PRIO)
# The side tables start this small and grow by doubling: one row, cell or folio past the
# initial size is the first growth (the NEED_* escape of a kernel).
FOLIO_ROWS = layout.FOLIO_ROWS
EXT_ROWS = layout.EXT_ROWS
BIG_CELLS = layout.BIG_CELLS
# Bitmap words hold WORD_BITS slots: a cluster of 64 slots spans two words.
WORD_BITS = int(k.WORD_BITS)


def near(limits: Iterable[int], lo: int, hi: int) -> list[int]:
    """Every `limit - 1, limit, limit + 1` of `limits` and the ends `lo`, `hi`, inside
    `[lo, hi]`, sorted and without repeats."""
    values = {lo, hi}
    for limit in limits:
        values.update((limit - 1, limit, limit + 1))
    return sorted(v for v in values if lo <= v <= hi)


def draw_int(chooser: Chooser, lo: int, hi: int, limits: Sequence[int] = (), *, p: float = BOUNDARY_P) -> int:
    """An integer in `[lo, hi]`: with probability `p` one of `near(limits, lo, hi)`, else the
    chooser's ordinary draw.  The coin comes first, so False (the shrink target) keeps the
    ordinary draw."""
    if lo >= hi:
        return lo
    if chooser.boolean(p):
        return chooser.choice(near(limits, lo, hi))
    return chooser.integer(lo, hi)


def draw_shadow(chooser: Chooser, *, p: float = BOUNDARY_P) -> int:
    """A shadow for swap_cache_del_folio: mostly 0 or a small workingset value as before, with
    boundary values of the payload field and random values above the escape limit (distinct
    big shadows, so a side-table cell read for another one is visible)."""
    if chooser.boolean(p):
        if chooser.boolean(0.5):
            return chooser.choice(near(SHADOW_LIMITS, 1, VALUE_LIMIT - 1))
        return chooser.integer(int(k.SHADOW_BIG), VALUE_LIMIT - 1)
    return chooser.integer(1, 4095) if chooser.boolean(0.7) else 0


def draw_count_target(chooser: Chooser) -> int:
    """How many references a burst of dups drives one slot to: around 14/15/16 and twice the
    inline field, and (one burst in ten: each reference costs calls on every later fork, zap
    and unuse) far beyond it."""
    if chooser.boolean(0.1):
        return chooser.choice(near((FAR_COUNT,), FAR_COUNT - 1, FAR_COUNT + 1))
    return chooser.choice(near(COUNT_LIMITS[:2], int(k.COUNT_MAX) - 1, COUNT_LIMITS[1] + 1))
