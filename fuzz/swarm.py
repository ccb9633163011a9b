"""Swarm testing: each episode (or Hypothesis example) gets its own action subset and geometry.

A world that always runs every action with every geometry mixes them so evenly that a state
needing a particular combination (several page-discard devices of one priority with no
discard work running, two SSDs rotating while one is full, a swap file beside a device with
bad pages, no spare swap type) shows up for a few steps at best.  Swarm testing (Groce et
al., 2012; Hypothesis' swarm strategies and Hegel do the same) instead draws per episode:

- a geometry *family*: `drawn` (the plain `draw_geometry`), `equal-priority` (2-4 devices of
  one priority), `mixed-kinds` (an SSD, a rotating disk, a swap file and a page-discard
  device), `discard` (2-4 small page/once-discard devices, mostly of one priority, without
  the discard worker), `rotating` (non-solid-state devices only: the per-device hint),
  `near-max` (as many devices as swap types, or one spare); a large geometry
  (`small=False`, `--geometry large`) always uses `drawn`;
- an action subset: every action outside `CORE_ACTIONS` and the profile's emphasised ones is
  switched off with probability 1/2, so rare combinations get whole episodes to themselves.

Half the episodes keep the plain mix (`drawn`, every action), so what the profiles were
tuned for still runs.  Everything is drawn from the episode's chooser, before its first step:
the same seed gives the same swarm, and under Hypothesis the all-zero draws (the shrink
target) are the plain mix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from fuzz.boundaries import BOUNDARY_P
from fuzz.choosers import Chooser
from fuzz.workloads import get_profile
from fuzz.world import ACTION_NAMES, DeviceSpec, Geometry, draw_device, draw_geometry

FAMILIES: tuple[str, ...] = ("drawn", "equal-priority", "mixed-kinds", "discard", "rotating", "near-max")
# Always on: without them a world never gets memory into swap and back out.
CORE_ACTIONS: frozenset[str] = frozenset({"anon_fault_new", "reclaim_full", "swapin_fault", "zap", "exit"})
HEAVY_P = 0.25  # chance that an episode draws boundary values HEAVY_BOUNDARY_P of the time
HEAVY_BOUNDARY_P = 0.5
LARGE_HEAVY_P = 0.6
SWARM_P = 0.5  # chance that an episode draws a family other than `drawn`
SUBSET_P = 0.5  # chance that an episode switches actions off
OFF_P = 0.5  # chance that each optional action is off in a subset episode
# The discard family models a slow discard worker: its explicit work call is off this often.
DISCARD_WORK_OFF_P = 0.75


@dataclass(frozen=True)
class Swarm:
    """One episode's swarm: its geometry family and the actions switched off."""

    family: str = "drawn"
    disabled: frozenset[str] = frozenset()
    boundary_p: float = BOUNDARY_P
    large_order_p: float | None = None  # None: the profile's

    def world_kwargs(self) -> dict[str, Any]:
        """The keywords `World` takes for this swarm."""
        return {"disabled": self.disabled, "boundary_p": self.boundary_p, "large_order_p": self.large_order_p}

    def to_dict(self) -> dict[str, object]:
        return {
            "family": self.family,
            "disabled": sorted(self.disabled),
            "boundary_p": self.boundary_p,
            "large_order_p": self.large_order_p,
        }


PLAIN = Swarm()


def draw_swarm(chooser: Chooser, *, profile: str = "default", small: bool = True) -> tuple[Geometry, Swarm]:
    """The geometry and swarm of one episode (see the module docstring)."""
    family = chooser.choice(FAMILIES[1:]) if chooser.boolean(SWARM_P) else "drawn"
    if not small:
        family = "drawn"  # the families are small by design; large geometries keep draw_geometry
    geometry = draw_family(chooser, family, small=small)
    disabled: set[str] = set()
    if chooser.boolean(SUBSET_P):
        emphasised = _emphasised(profile)
        for name in ACTION_NAMES:
            if name not in CORE_ACTIONS and name not in emphasised and chooser.boolean(OFF_P):
                disabled.add(name)
    if family == "discard" and chooser.boolean(DISCARD_WORK_OFF_P):
        disabled.add("discard_work")
    # Some episodes are boundary-heavy: a side table's escape path needs several escaped
    # values alive at once (e.g. five big shadows before the first is faulted back).
    boundary_p = HEAVY_BOUNDARY_P if chooser.boolean(HEAVY_P) else BOUNDARY_P
    # Some are large-folio heavy: a cluster of one order full of order-0 swap-cache folios
    # (a large folio faulted back page by page) met by the next large allocation.
    large_order_p = LARGE_HEAVY_P if chooser.boolean(HEAVY_P) else None
    return geometry, Swarm(family, frozenset(disabled), boundary_p, large_order_p)


def _emphasised(profile: str) -> frozenset[str]:
    """The actions a profile weights above its default: what the profile is about stays on."""
    p = get_profile(profile)
    return frozenset(name for name, weight in p.weights.items() if weight > p.default)


def draw_family(chooser: Chooser, family: str, *, small: bool = True) -> Geometry:
    """A geometry of the named family; every device is a `draw_device` with some fields set."""
    if family == "drawn":
        return draw_geometry(chooser, small=small)
    if family not in FAMILIES:
        raise ValueError(f"unknown geometry family {family!r}; known: {', '.join(FAMILIES)}")
    cluster_size = 1 << chooser.integer(2, 5)
    if family == "equal-priority":
        priority = chooser.choice((None, 0, 1, 5))
        devices = [
            replace(_small_device(chooser, cluster_size), priority=priority)
            for _ in range(chooser.integer(2, 4))
        ]
        spare = chooser.integer(0, 1)
    elif family == "mixed-kinds":
        kinds = (
            {"solidstate": True, "blkdev": True},
            {"solidstate": False, "blkdev": True},
            {"solidstate": True, "blkdev": False, "bad": ()},
            {"solidstate": True, "blkdev": True, "discard": "pages"},
        )
        devices = [replace(_small_device(chooser, cluster_size), **kind) for kind in kinds]
        spare = chooser.integer(0, 1)
    elif family == "discard":
        # Small devices of small clusters, so whole clusters come free and pile up on the
        # discard lists and the synchronous discard runs; one priority (a spare device may
        # differ) so the avail list rotates among them.
        cluster_size = 1 << chooser.integer(2, 3)
        priority = chooser.choice((None, 1))
        devices = []
        for i in range(chooser.integer(2, 4)):
            spec = _small_device(chooser, cluster_size, clusters=4)
            discard = "pages" if chooser.boolean(0.9) else "once"
            own = priority if i < 2 or chooser.boolean(0.75) else chooser.integer(0, 2)
            devices.append(replace(spec, discard=discard, priority=own))
        spare = chooser.integer(0, 1)
    elif family == "rotating":
        devices = [
            replace(_small_device(chooser, cluster_size), solidstate=False)
            for _ in range(chooser.integer(1, 3))
        ]
        spare = chooser.integer(0, 1)
    else:  # near-max: no spare type (swapon gets -EPERM) or exactly one
        devices = [_small_device(chooser, cluster_size) for _ in range(chooser.integer(2, 6))]
        spare = chooser.integer(0, 1)
    return Geometry(cluster_size, len(devices) + spare, tuple(devices))


def _small_device(chooser: Chooser, cluster_size: int, *, clusters: int = 6) -> DeviceSpec:
    """A `draw_device` cut to at most `clusters` clusters, bad pages beyond the cut dropped."""
    spec = draw_device(chooser, cluster_size)
    short = -spec.size % cluster_size  # keep the drawn short tail (the padding)
    size = max(2, min(spec.size, clusters * cluster_size - short))
    return replace(spec, size=size, bad=tuple(b for b in spec.bad if b < size))


def episode_setup(
    chooser: Chooser, geometry: Geometry | None, *, profile: str = "default", small: bool = True
) -> tuple[Geometry, Swarm]:
    """An episode's geometry and swarm: drawn (`draw_swarm`) unless the geometry is fixed; a
    fixed geometry (a named one, `--geometry JSON`) runs every action."""
    if geometry is not None:
        return geometry, PLAIN
    return draw_swarm(chooser, profile=profile, small=small)
