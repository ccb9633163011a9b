"""Choosers: deterministic for a seed, within bounds, and weights are respected."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from fuzz.choosers import HypothesisChooser, RandomChooser, WeightTable


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


def test_weight_table_picks_by_cumulative_tickets():
    table = WeightTable({"a": 1.0, "zero": 0.0, "b": 0.5, "c": 2.0})
    assert table.total == 350
    assert dict(table) == {"a": 1.0, "zero": 0.0, "b": 0.5, "c": 2.0}
    picks = [table.pick(t) for t in (0, 99, 100, 149, 150, 349)]
    assert picks == ["a", "a", "b", "b", "c", "c"]


class ScriptedData:
    """A stand-in for Hypothesis' `data`: every draw returns the next scripted value."""

    def __init__(self, values):
        self.values = list(values)
        self.draws = 0

    def draw(self, strategy):
        self.draws += 1
        return self.values.pop(0)


def test_hypothesis_chooser_spreads_wide_picks_over_every_key():
    # Hypothesis favours small integers, so a wide ticket range is drawn as uniform bytes:
    # zero bytes are the first key (the shrink target), high bytes reach the last key.
    weights = {f"k{i}": 1.0 for i in range(45)}
    assert HypothesisChooser(ScriptedData([0, 0])).weighted(weights) == "k0"
    assert HypothesisChooser(ScriptedData([128, 0])).weighted(weights) == "k22"
    last = ScriptedData([255, 255])
    assert HypothesisChooser(last).weighted(weights) == "k44"
    assert last.draws == 2


def test_hypothesis_chooser_coins_are_one_byte_and_zero_is_false():
    assert HypothesisChooser(ScriptedData([0])).boolean(0.9) is False
    assert HypothesisChooser(ScriptedData([127])).boolean(0.5) is False
    assert HypothesisChooser(ScriptedData([128])).boolean(0.5) is True
    assert HypothesisChooser(ScriptedData([255])).boolean(0.05) is True
    assert HypothesisChooser(ScriptedData([242])).boolean(0.05) is False
