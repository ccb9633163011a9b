"""The world model: geometry drawing and its JSON form, determinism, and that its own
bookkeeping matches the implementation it drives (it never puts what it does not hold)."""

from __future__ import annotations

import json

import pytest

from fuzz.choosers import RandomChooser
from fuzz.lockstep import Lockstep
from fuzz.workloads import PROFILES
from fuzz.world import (
    ACTION_NAMES,
    ACTIONS,
    CONDITION_NAMES,
    CONDITIONS,
    MISUSE_ACTIONS,
    DeviceSpec,
    DirectExecutor,
    Geometry,
    MisuseAccepted,
    World,
    action,
    draw_geometry,
)
from reference.api import SLOT_BAD, decode_ops, encode_call
from reference.model import ReferenceSwap


def _world(seed: int, profile: str = "default", geometry: Geometry | None = None):
    chooser = RandomChooser(seed)
    geo = geometry or draw_geometry(chooser)
    impl = ReferenceSwap(**geo.impl_kwargs())
    world = World(geo, DirectExecutor(impl), profile=profile)
    world.setup()
    return world, impl, chooser


# ---- geometry ----


@pytest.mark.parametrize("seed", range(20))
def test_drawn_geometry_is_small_and_round_trips_through_json(seed):
    geo = draw_geometry(RandomChooser(seed))
    assert geo.cluster_size in (4, 8, 16, 32, 64)
    assert 1 <= len(geo.devices) <= 4
    assert len(geo.devices) <= geo.max_swapfiles <= len(geo.devices) + 2
    for dev in geo.devices:
        assert 2 <= dev.size <= 12 * geo.cluster_size
        assert all(0 < b < dev.size for b in dev.bad)
    assert Geometry.from_dict(json.loads(json.dumps(geo.to_dict()))) == geo


def test_swapon_call_survives_the_op_encoding():
    spec = DeviceSpec(37, priority=3, bad=(4, 9), solidstate=False, blkdev=True, discard="pages")
    call = spec.swapon_call()
    assert decode_ops(encode_call(call)) == [call]


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"cluster_size": 6, "devices": []},
        {"cluster_size": 8, "devices": [{"size": "ten"}]},
        {"cluster_size": 8, "devices": [{"size": 10, "discard": "sometimes"}]},
        {"cluster_size": 8, "devices": [{"size": 10}], "color": "blue"},
        {"cluster_size": 8, "max_swapfiles": 0, "devices": []},
        {"devices": []},
    ],
)
def test_malformed_geometry_is_a_value_error(data):
    with pytest.raises(ValueError):
        Geometry.from_dict(data)


# ---- behaviour ----


def _calls(seed: int) -> list:
    geo = draw_geometry(RandomChooser(seed))
    lockstep = Lockstep(ReferenceSwap(**geo.impl_kwargs()), ReferenceSwap(**geo.impl_kwargs()))
    world = World(geo, lockstep)
    world.setup()
    chooser = RandomChooser(seed + 1)
    for _ in range(150):
        world.step(chooser)
    return [(str(s.call), s.result, s.digest) for s in lockstep.history]


def test_same_seed_same_calls_results_and_digests():
    assert _calls(7) == _calls(7)
    assert _calls(7) != _calls(8)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_world_bookkeeping_matches_the_reference(profile):
    for seed in range(3):
        world, impl, chooser = _world(seed, profile)
        for _ in range(250):
            world.step(chooser)
        assert not world.anomalies, world.anomalies
        expected = world.expected_counts()
        for entry, count in expected.items():
            assert impl.swap_count(entry) == count, (entry, count)
        # No reference the world forgot: every counted slot is one the world holds.
        snap = impl.snapshot("contract").data
        total = sum(row[2] for rows in snap["slots"].values() for row in rows if row[1] != SLOT_BAD)
        assert total == sum(expected.values())
        # Its view of the swap cache is the implementation's.
        for folio in world.folios.values():
            assert impl.folio_entry(folio.id) == folio.entry
        assert set(world.folios) == {row[0] for row in snap["folios"]}


@pytest.mark.parametrize("profile", ["default", "mthp", "swapoff"])
def test_incremental_step_bookkeeping_matches_a_recount(profile):
    """The folio-state counter, the swap-PTE count and the cached weight tables are kept
    incrementally; after every step they equal what a recount of the world gives."""
    world, _, chooser = _world(11, profile)
    enabled_seen = set()
    for _ in range(300):
        world.step(chooser)
        assert world._summary() == world._summary_from_scratch()
        weights = world.enabled_weights()
        enabled_seen.update(weights)
        # Every enabled action has its profile weight (times 4 when crowded, for some).
        for name, weight in weights.items():
            assert weight in (world.profile.weight(name), 4 * world.profile.weight(name)), name
    assert len(world._condition_values()) == len(CONDITION_NAMES) + 1
    assert len(enabled_seen) > 20


@pytest.mark.parametrize("action", MISUSE_ACTIONS)
def test_misuse_actions_raise_and_change_nothing(action):
    ran = 0
    for seed in range(6):
        world, impl, chooser = _world(seed)
        for _ in range(80):
            world.step(chooser)
        before = impl.snapshot("allocator")
        world.run_action(action, chooser)
        assert impl.snapshot("allocator") == before
        ran += world.rule_counts[action]
    assert ran > 0, f"{action} never found a target"


class AcceptsDupOfFreeSlots(ReferenceSwap):
    def swap_dup_entry_direct(self, entry, *, alloc_fails=False):
        return 0


def test_a_misuse_the_implementation_accepts_is_reported():
    geo = Geometry(8, 1, (DeviceSpec(32),))
    world = World(geo, DirectExecutor(AcceptsDupOfFreeSlots(**geo.impl_kwargs())))
    world.setup()
    with pytest.raises(MisuseAccepted, match="swap_dup_entry_direct"):
        world.run_action("misuse_dup_free", RandomChooser(0))


def test_unknown_action_and_profile_are_value_errors():
    world, _, chooser = _world(0)
    with pytest.raises(ValueError, match="unknown world action"):
        world.run_action("defragment", chooser)
    with pytest.raises(ValueError, match="known: default"):
        World(world.geometry, world.executor, profile="turbo")


def test_setup_swaps_on_every_device():
    geo = Geometry(4, 3, (DeviceSpec(9), DeviceSpec(20, priority=5, discard="pages")))
    world, impl, _ = _world(0, geometry=geo)
    assert sorted(world.devices) == [0, 1]
    assert impl.total_swap_pages() == 8 + 19


def test_profiles_weight_only_real_actions():
    for profile in PROFILES.values():
        assert set(profile.weights) <= set(ACTION_NAMES), profile.name


def test_every_action_is_registered_with_a_registered_condition():
    assert tuple(ACTIONS) == ACTION_NAMES
    for spec in ACTIONS.values():
        assert CONDITIONS[spec.when.__name__] is spec.when, spec.name
        assert spec.run is getattr(World, "_act_" + spec.name)


@pytest.mark.parametrize("profile", ["default", "swapoff", "hibernate"])
def test_an_action_is_enabled_exactly_when_its_condition_holds(profile):
    world, _, chooser = _world(5, profile)
    for _ in range(200):
        world.step(chooser)
        summary = world._summary()
        enabled = world.enabled_weights()
        for name, spec in ACTIONS.items():
            if world.profile.weight(name) > 0:
                assert (name in enabled) == spec.when(world, summary), name


def test_registering_an_action_checks_its_name_and_condition():
    def room_for_anything(w, s):
        return True

    with pytest.raises(ValueError, match="not a registered condition"):
        action(when=room_for_anything)
    with pytest.raises(ValueError, match="_act_<unique name>"):
        action(when=CONDITIONS["always"])(World._act_zap)
    with pytest.raises(ValueError, match="_act_<unique name>"):
        action(when=CONDITIONS["always"])(room_for_anything)
    assert "room_for_anything" not in ACTIONS
