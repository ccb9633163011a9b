"""Choosers: deterministic for a seed, within bounds, and weights are respected."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from fuzz.choosers import HypothesisChooser, RandomChooser


def _draws(chooser) -> list:
    return [
        chooser.integer(3, 9),
        chooser.boolean(0.3),
        chooser.choice("abc"),
        chooser.weighted({"x": 1.0, "y": 2.5}),
    ]


def test_random_chooser_is_deterministic_per_seed():
    assert [_draws(RandomChooser(5)) for _ in range(3)] == [_draws(RandomChooser(5))] * 3
    assert any(_draws(RandomChooser(5)) != _draws(RandomChooser(s)) for s in range(6, 10))


def test_random_chooser_respects_weights_and_certain_coins():
    chooser = RandomChooser(1)
    picks = Counter(chooser.weighted({"never": 0.0, "rare": 1.0, "often": 9.0}) for _ in range(2000))
    assert picks["never"] == 0
    assert picks["often"] > 5 * picks["rare"] > 0
    assert not any(chooser.boolean(0.0) for _ in range(200))
    assert all(chooser.boolean(1.0) for _ in range(200))


@given(st.data())
def test_hypothesis_chooser_stays_in_bounds(data):
    chooser = HypothesisChooser(data)
    assert 3 <= chooser.integer(3, 9) <= 9
    assert chooser.integer(4, 4) == 4
    assert chooser.choice("abc") in "abc"
    assert chooser.weighted({"never": 0.0, "x": 1.0, "y": 2.0}) in ("x", "y")
    assert chooser.boolean(0.0) is False
    assert chooser.boolean(1.0) is True
