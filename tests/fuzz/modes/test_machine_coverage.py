"""Reachability: every world action fires and every allocator event label is hit.

The Hypothesis profile tests run in separate pytest-xdist workers, so their counts cannot be
summed here.  Instead this test replays the same workload mix in-process: the world of every
profile, on drawn geometries and on the named fixed ones of test_machine_geometries, driven by
seeded `RandomChooser`s.  Which actions run and which labels are hit depend only on the world
and the reference (labels are computed from reference snapshots), so the executor is a
reference/reference lockstep without invariant checks: the differential checking is the
machine tests' job, and this test costs the same with or without the JIT.  The counts it
prints (with -s) are the "event-label counts of a ci run".
"""

from __future__ import annotations

from collections import Counter

from fuzz.choosers import RandomChooser
from fuzz.events import ALLOCATOR_LABELS
from fuzz.lockstep import Lockstep
from fuzz.workloads import PROFILES
from fuzz.world import ACTION_NAMES, NAMED_GEOMETRIES, World, draw_geometry
from reference.model import ReferenceSwap

SEEDS = 3
STEPS = 250
# The (geometry, profile) pairs of test_machine_geometries.
FIXED = (
    ("hdd-discard", "usemem"),
    ("pressure", "usemem"),
    ("twin-ssds", "kbuild"),
    ("mixed", "default"),
    ("huge", "mthp"),
)


def _run(geometry, profile: str, seed: int, actions: Counter, labels: Counter) -> None:
    chooser = RandomChooser(f"{profile}-{seed}")
    geo = geometry or draw_geometry(chooser)
    kwargs = geo.impl_kwargs()
    lockstep = Lockstep(ReferenceSwap(**kwargs), ReferenceSwap(**kwargs), check_invariants=False)
    world = World(geo, lockstep, profile=profile)
    world.setup()
    for _ in range(STEPS):
        world.step(chooser)
    assert not world.anomalies, (profile, seed, world.anomalies)
    actions.update(world.rule_counts)
    labels.update(lockstep.labels)


def test_every_action_fires_and_every_allocator_label_is_hit():
    actions: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for profile in PROFILES:
        for seed in range(SEEDS):
            _run(None, profile, seed, actions, labels)
    for name, profile in FIXED:
        for seed in range(SEEDS):
            _run(NAMED_GEOMETRIES[name], profile, seed, actions, labels)
    print("\nactions:", dict(sorted(actions.items())))
    print("labels:", dict(sorted(labels.items())))
    assert [a for a in ACTION_NAMES if not actions[a]] == []
    assert [label for label in ALLOCATOR_LABELS if not labels[label]] == []
