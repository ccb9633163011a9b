"""Sources of choices for the world model: seeded random (fast mode) or Hypothesis (shrinking).

The world never draws randomness itself; it asks a `Chooser`.  Two implementations give the
same interface: `RandomChooser` (a seeded `random.Random`, for fast traces and campaigns) and
`HypothesisChooser` (draws from a Hypothesis `st.data()` object, so failures shrink).  Both
map "simpler" to smaller draws: the first element, the low end of a range, False for a biased
coin, and the first key of a weight table, so Hypothesis shrinks toward plain workloads.

A weight table is turned into a `WeightTable` (cumulative integer tickets, picked by bisect);
the world caches one per set of enabled actions, so a weighted pick costs one draw and one
bisect.  Hypothesis draws integers far from uniformly (values below 256 take most of the mass
of a wide range), which would make the first keys of a table and False coins dominate every
example; `HypothesisChooser` therefore draws picks and coins as one or more uniform bytes
that still shrink toward zero.
"""

from __future__ import annotations

import functools
import random
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# Weights are turned into integer tickets so a weighted pick is one integer draw, which
# Hypothesis shrinks toward the first key.
_TICKETS_PER_UNIT = 100
_COIN_RESOLUTION = 1000
_BYTE = 256


class Chooser(Protocol):
    """What the world asks for.  Every method is deterministic given the chooser's source."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in `[lo, hi]` (inclusive)."""
        ...

    def boolean(self, p: float = 0.5) -> bool:
        """True with probability `p`."""
        ...

    def choice(self, seq: Sequence[T]) -> T:
        """One element of a non-empty sequence."""
        ...

    def weighted(self, weights: Mapping[str, float]) -> str:
        """A key picked with probability proportional to its weight (keys in mapping order)."""
        ...


class WeightTable(Mapping[str, float]):
    """An immutable weight table with its cumulative tickets: key `i` owns the tickets
    `[cumulative[i-1], cumulative[i])`, so a ticket in `[0, total)` picks by bisection."""

    __slots__ = ("_led", "_weights", "cumulative", "names", "total")

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._weights = {key: w for key, w in weights.items()}
        keys, cumulative, total = [], [], 0
        for key, w in self._weights.items():
            tickets = round(w * _TICKETS_PER_UNIT)
            if tickets > 0:
                total += tickets
                keys.append(key)
                cumulative.append(total)
        if not keys:
            raise ValueError(f"no positive weight among {list(self._weights)}")
        self.names: tuple[str, ...] = tuple(keys)
        self.cumulative: tuple[int, ...] = tuple(cumulative)
        self.total = total
        self._led: dict[tuple[str, ...], WeightTable] = {}

    def led_by(self, lead: tuple[str, ...]) -> WeightTable:
        """This table with the keys of `lead` it has moved to the front (kept per lead, so
        a world's cached table is reordered once, not once per step)."""
        table = self._led.get(lead)
        if table is None:
            first = {key: self._weights[key] for key in lead if key in self._weights}
            rest = {key: w for key, w in self._weights.items() if key not in first}
            table = self._led[lead] = WeightTable({**first, **rest})
        return table

    def pick(self, ticket: int) -> str:
        """The key owning `ticket` (0 <= ticket < total)."""
        return self.names[min(bisect_right(self.cumulative, ticket), len(self.names) - 1)]

    def __getitem__(self, key: str) -> float:
        return self._weights[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._weights)

    def __len__(self) -> int:
        return len(self._weights)

    def __repr__(self) -> str:
        return f"WeightTable({self._weights!r})"


def weight_table(weights: Mapping[str, float]) -> WeightTable:
    """`weights` as a `WeightTable` (itself if it already is one)."""
    return weights if isinstance(weights, WeightTable) else WeightTable(weights)


def _coin_threshold(p: float) -> int:
    # A draw in [0, RESOLUTION) is True iff it reaches this threshold, so 0 (the shrink
    # target) is False unless p == 1.
    return _COIN_RESOLUTION - round(max(0.0, min(1.0, p)) * _COIN_RESOLUTION)


class RandomChooser:
    """Choices from `random.Random(seed)`: the same seed gives the same sequence everywhere."""

    def __init__(self, seed: int | str = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def boolean(self, p: float = 0.5) -> bool:
        return self.rng.randrange(_COIN_RESOLUTION) >= _coin_threshold(p)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.rng.randrange(len(seq))]

    def weighted(self, weights: Mapping[str, float]) -> str:
        table = weight_table(weights)
        return table.pick(self.rng.randrange(table.total))


class HypothesisChooser:
    """Choices drawn from a Hypothesis `st.data()` object inside a test or state machine.

    `integer` is a plain Hypothesis integer (small and boundary values favoured, which is
    what finds off-by-ones).  `choice`, `weighted` and `boolean` are uniform: they draw
    bytes (`integers(0, 255)` is uniform under Hypothesis) and scale them, so an example
    runs the profile's mix rather than mostly the first key; all-zero bytes are still the
    first element, the first key and False, the shrink targets.
    """

    def __init__(self, data: Any, *, lead: Sequence[str] = ()) -> None:
        self.data = data
        self._draw = _drawer(data)
        # Keys moved to the front of every weight table (the smallest draws pick them).
        self.lead = tuple(lead)

    def _int(self, lo: int, hi: int) -> int:
        if lo == hi:
            return lo
        return self._draw(_integers(lo, hi))

    def _uniform(self, n: int) -> int:
        """A near-uniform integer in `[0, n)`: one byte per 8 bits of `n`, scaled down."""
        if n <= 1:
            return 0
        if n <= _BYTE:
            return self._draw(_integers(0, n - 1))
        byte = _integers(0, _BYTE - 1)
        value, span = 0, 1
        while span < n * 8:  # 3 spare bits: no value is more than 1/8 likelier than another
            value = value * _BYTE + self._draw(byte)
            span *= _BYTE
        return value * n // span

    def integer(self, lo: int, hi: int) -> int:
        return self._int(lo, hi)

    def boolean(self, p: float = 0.5) -> bool:
        # One byte per coin (resolution 1/256): 0, the shrink target, is False unless p == 1.
        threshold = _BYTE - round(max(0.0, min(1.0, p)) * _BYTE)
        if threshold <= 0:
            return True
        if threshold >= _BYTE:
            return False
        return self._draw(_integers(0, _BYTE - 1)) >= threshold

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self._uniform(len(seq))]

    def weighted(self, weights: Mapping[str, float]) -> str:
        table = weight_table(weights)
        if self.lead:
            table = table.led_by(self.lead)
        return table.pick(self._uniform(table.total))


@functools.lru_cache(maxsize=1024)
def _integers(lo: int, hi: int) -> Any:
    """`st.integers(lo, hi)`, built once per range (a chooser is made per world step)."""
    from hypothesis import strategies as st

    return st.integers(lo, hi)


def _drawer(data: Any) -> Any:
    """How a chooser draws from `data` (a Hypothesis `st.data()` object).

    `DataObject.draw` wraps the conjecture draw in per-draw bookkeeping that only matters
    when Hypothesis reports a draw: it checks, on every draw, whether to note "Draw n:
    value" for the final report or in verbose mode, which costs as much as the draw of a
    byte.  The choice is made once per chooser instead (per world step): while Hypothesis
    notes draws, the chooser draws through `data.draw` as before; otherwise it draws from the
    same `ConjectureData` directly, so the choices, spans and examples are the same."""
    conjecture = getattr(data, "conjecture_data", None)
    if conjecture is None or _noting():
        return data.draw
    return conjecture.draw


def _noting() -> bool:
    from hypothesis.control import should_note

    try:
        return should_note()
    except Exception:  # outside a test (a hand-made data object): draw the plain way
        return True
