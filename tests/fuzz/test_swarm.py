"""Swarm testing: per-episode geometry families and action subsets, deterministic by seed."""

from __future__ import annotations

from collections import Counter

import pytest

from fuzz.choosers import RandomChooser
from fuzz.modes.fast import RecordingExecutor, episode_calls
from fuzz.swarm import CORE_ACTIONS, FAMILIES, PLAIN, draw_family, draw_swarm, episode_setup
from fuzz.world import NAMED_GEOMETRIES, World
from reference import ReferenceSwap


def test_same_seed_same_swarm_and_every_family_is_drawn() -> None:
    swarms = [draw_swarm(RandomChooser(seed)) for seed in range(300)]
    assert swarms == [draw_swarm(RandomChooser(seed)) for seed in range(300)]
    families = Counter(s.family for _, s in swarms)
    assert set(families) == set(FAMILIES)
    assert 100 < families["drawn"] < 200  # half the episodes keep the plain mix
    subsets = [s.disabled for _, s in swarms if s.disabled]
    assert 100 < len(subsets) < 200
    assert all(not (d & CORE_ACTIONS) for d in subsets)


def test_a_profiles_emphasised_actions_stay_on() -> None:
    for seed in range(100):
        _, swarm = draw_swarm(RandomChooser(seed), profile="fork")
        assert not swarm.disabled & {"fork", "fork_fanout", "exit", "swapin_fault"}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_geometries_have_their_shape_and_swap_on(family: str) -> None:
    for seed in range(40):
        geo = draw_family(RandomChooser(seed), family)
        devices = geo.devices
        assert len(devices) <= geo.max_swapfiles
        if family == "equal-priority":
            assert len(devices) >= 2 and len({d.priority for d in devices}) == 1
        elif family == "mixed-kinds":
            assert {d.solidstate for d in devices} == {True, False}
            assert any(not d.blkdev for d in devices) and any(d.discard == "pages" for d in devices)
        elif family == "discard":
            assert len(devices) >= 2 and all(d.discard != "none" for d in devices)
        elif family == "rotating":
            assert not any(d.solidstate for d in devices)
        elif family == "near-max":
            assert geo.max_swapfiles - len(devices) <= 1
        ref = ReferenceSwap(**geo.impl_kwargs())
        for spec in devices:
            result = spec.swapon_call().invoke(ref)
            # Only a device whose every slot is bad is refused.
            assert result >= 0 or len(set(spec.bad)) >= spec.size - 1


def test_disabled_actions_never_run_and_episodes_replay() -> None:
    for seed in range(6):
        chooser = RandomChooser(seed)
        geo, swarm = episode_setup(chooser, None)
        executor = RecordingExecutor(ReferenceSwap(**geo.impl_kwargs()))
        world = World(geo, executor, **swarm.world_kwargs())
        world.setup()
        ran = Counter(world.step(chooser) for _ in range(600))
        assert not set(ran) & swarm.disabled
        calls, again = episode_calls(ReferenceSwap, seed=seed, count=len(executor.calls))
        assert again == geo and calls == executor.calls


def test_large_geometries_keep_the_plain_draw() -> None:
    assert {draw_swarm(RandomChooser(seed), small=False)[1].family for seed in range(50)} == {"drawn"}


def test_a_fixed_geometry_runs_every_action() -> None:
    geo = NAMED_GEOMETRIES["twin-ssds"]
    assert episode_setup(RandomChooser(0), geo) == (geo, PLAIN)


def test_unknown_disabled_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown world action"):
        World(NAMED_GEOMETRIES["twin-ssds"], RecordingExecutor(ReferenceSwap()), disabled=frozenset({"nope"}))
