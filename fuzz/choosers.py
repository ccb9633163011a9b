"""Sources of choices for the world model: seeded random (fast mode) or Hypothesis (shrinking).

The world never draws randomness itself; it asks a `Chooser`.  Two implementations give the
same interface: `RandomChooser` (a seeded `random.Random`, for fast traces and campaigns) and
`HypothesisChooser` (draws from a Hypothesis `st.data()` object, so failures shrink).  Both
map "simpler" to smaller draws: the first element, the low end of a range, False for a biased
coin, and the first key of a weight table, so Hypothesis shrinks toward plain workloads.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# Weights are turned into integer tickets so a weighted pick is one integer draw, which
# Hypothesis shrinks toward the first key.
_TICKETS_PER_UNIT = 100
_COIN_RESOLUTION = 1000


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


def _tickets(weights: Mapping[str, float]) -> list[tuple[str, int]]:
    table = [(key, round(w * _TICKETS_PER_UNIT)) for key, w in weights.items()]
    table = [(key, t) for key, t in table if t > 0]
    if not table:
        raise ValueError(f"no positive weight among {list(weights)}")
    return table


def _pick_ticket(table: list[tuple[str, int]], ticket: int) -> str:
    for key, count in table:
        if ticket < count:
            return key
        ticket -= count
    return table[-1][0]


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
        table = _tickets(weights)
        return _pick_ticket(table, self.rng.randrange(sum(t for _, t in table)))


class HypothesisChooser:
    """Choices drawn from a Hypothesis `st.data()` object inside a test or state machine."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self._st = st
        self.data = data

    def _int(self, lo: int, hi: int) -> int:
        if lo == hi:
            return lo
        return self.data.draw(self._st.integers(lo, hi))

    def integer(self, lo: int, hi: int) -> int:
        return self._int(lo, hi)

    def boolean(self, p: float = 0.5) -> bool:
        threshold = _coin_threshold(p)
        if threshold <= 0:
            return True
        if threshold >= _COIN_RESOLUTION:
            return False
        return self._int(0, _COIN_RESOLUTION - 1) >= threshold

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self._int(0, len(seq) - 1)]

    def weighted(self, weights: Mapping[str, float]) -> str:
        table = _tickets(weights)
        return _pick_ticket(table, self._int(0, sum(t for _, t in table) - 1))
