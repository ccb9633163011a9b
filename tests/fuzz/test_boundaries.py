"""Boundary values of the packed layout: the helper's values and the world's use of them."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import boundaries as b
from fuzz.choosers import HypothesisChooser, RandomChooser
from fuzz.modes.fast import RecordingExecutor
from fuzz.world import World, draw_geometry
from optimized import kernels as k
from optimized import state
from reference import ReferenceSwap
from reference.api import VALUE_LIMIT, contract_error_result


def test_near_gives_each_limit_and_its_neighbours_inside_the_range() -> None:
    assert b.near((15,), 0, 100) == [0, 14, 15, 16, 100]
    assert b.near((15, 100), 10, 100) == [10, 14, 15, 16, 99, 100]
    assert b.near((5,), 5, 8) == [5, 6, 8]  # 4 is outside
    assert b.near((), 3, 3) == [3]


def test_limits_are_the_layouts_constants() -> None:
    big = int(k.SHADOW_BIG)
    shadows = b.near(b.SHADOW_LIMITS, 1, VALUE_LIMIT - 1)
    assert {big - 1, big, big + 1, VALUE_LIMIT - 1} <= set(shadows)
    assert max(shadows) == VALUE_LIMIT - 1
    counts = b.near(b.COUNT_LIMITS, 0, 10**6)
    assert {int(k.COUNT_MAX) - 1, int(k.COUNT_MAX), int(k.COUNT_MAX) + 1} <= set(counts)
    assert (b.FOLIO_ROWS, b.EXT_ROWS, b.BIG_CELLS) == (state.FOLIO_ROWS, state.EXT_ROWS, state.BIG_CELLS)


def test_draw_int_mixes_boundaries_with_ordinary_draws() -> None:
    chooser = RandomChooser(1)
    draws = Counter(b.draw_int(chooser, 0, 10**9, (15, 16)) for _ in range(2000))
    boundary = sum(n for v, n in draws.items() if v in (0, 14, 15, 16, 17, 10**9))
    assert 100 < boundary < 400  # about BOUNDARY_P of 2000
    assert len(draws) > 1500  # the rest are ordinary, spread draws


def test_draw_int_is_a_coin_then_the_plain_draw() -> None:
    plain, mixed = RandomChooser(7), RandomChooser(7)
    for _ in range(50):
        plain.boolean(0.0)  # the coin draw_int spends first
        assert b.draw_int(mixed, 3, 900, (100,), p=0.0) == plain.integer(3, 900)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_hypothesis_chooser_draws_stay_in_range(data: st.DataObject) -> None:
    chooser = HypothesisChooser(data)
    value = b.draw_int(chooser, 2, 40, (16, 32))
    assert 2 <= value <= 40
    shadow = b.draw_shadow(chooser)
    assert 0 <= shadow < VALUE_LIMIT
    target = b.draw_count_target(chooser)
    assert int(k.COUNT_MAX) - 1 <= target <= b.FAR_COUNT + 1


def _calls(seed: int, steps: int) -> list:
    chooser = RandomChooser(seed)
    geo = draw_geometry(chooser)
    reference = ReferenceSwap(**geo.impl_kwargs())
    executor = RecordingExecutor(reference)
    world = World(geo, executor)
    world.setup()
    for _ in range(steps):
        world.step(chooser)
    return executor.calls


def test_world_passes_boundary_values_of_every_field() -> None:
    calls = [c for seed in range(4) for c in _calls(seed, 2500)]
    big = int(k.SHADOW_BIG)
    shadows = {c.kwargs["shadow"] for c in calls if c.name == "swap_cache_del_folio"}
    assert shadows & {big - 1, big, big + 1}
    assert any(s > big + 1 for s in shadows)  # random big shadows, not only the limits
    folios = {c.kwargs["folio"] for c in calls if c.name == "folio_new"}
    assert max(folios) >= 1 << 32 and VALUE_LIMIT - 1 in folios | {
        c.kwargs["folio"] for c in calls if c.name in ("swap_cache_alloc_folio", "swapin_folio")
    }
    dups = Counter(c.kwargs["entry"] for c in calls if c.name == "swap_dup_entry_direct")
    assert max(dups.values()) >= int(k.COUNT_MAX) + 1  # a burst drives one count past 16


def test_large_range_over_bad_is_refused_at_an_entry_that_is_not_bad() -> None:
    chooser = RandomChooser(11)
    geo = draw_geometry(chooser)
    executor = RecordingExecutor(ReferenceSwap(**geo.impl_kwargs()))
    world = World(geo, executor)
    world.setup()
    seen = 0
    for _ in range(200):
        start = len(executor.calls)
        world.run_action("misuse_large_over_bad", chooser)
        for call, result in zip(executor.calls[start:], executor.results[start:]):
            if call.name != "swapin_folio":
                continue
            seen += 1
            entry, nr = call.kwargs["entry"], 1 << call.kwargs["order"]
            spec = world.devices[entry.type].spec
            assert nr >= 2
            assert entry.offset != 0 and entry.offset not in spec.bad and entry.offset < spec.size
            assert result == contract_error_result("bad-slot")
    assert seen > 50
