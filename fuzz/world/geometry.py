"""Geometry: the devices a world swaps on, drawn from a chooser or named, and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fuzz.boundaries import (
    BOUNDARY_P,
    PRIORITY_LIMITS,
    WORD_BITS,
    draw_int,
    near,
)
from fuzz.choosers import Chooser
from reference import api
from reference.api import (
    DISCARD_KINDS,
    MAX_SWAP_PRIO,
    Call,
)


@dataclass(frozen=True)
class DeviceSpec:
    """One device as swapon sees it: `size` slots (header included) and its kind."""

    size: int
    priority: int | None = None
    bad: tuple[int, ...] = ()
    solidstate: bool = True
    blkdev: bool = True
    discard: str = "none"

    def swapon_call(self) -> Call:
        return Call(
            "swapon",
            {
                "size": self.size,
                "priority": self.priority,
                "bad": tuple(self.bad),
                "solidstate": self.solidstate,
                "blkdev": self.blkdev,
                "discard": self.discard,
            },
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "priority": self.priority,
            "bad": list(self.bad),
            "solidstate": self.solidstate,
            "blkdev": self.blkdev,
            "discard": self.discard,
        }

    @classmethod
    def from_dict(cls, data: Any) -> DeviceSpec:
        if not isinstance(data, dict):
            raise ValueError(f"a device must be an object, got {type(data).__name__}")
        unknown = set(data) - {"size", "priority", "bad", "solidstate", "blkdev", "discard"}
        if unknown:
            raise ValueError(f"unknown device field(s): {', '.join(sorted(unknown))}")
        size = _int_field(data, "size", required=True)
        priority = data.get("priority")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            raise ValueError(f"device priority must be an integer or null, got {priority!r}")
        bad = data.get("bad", [])
        if not isinstance(bad, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in bad):
            raise ValueError(f"device bad must be a list of integers, got {bad!r}")
        flags = {}
        for key in ("solidstate", "blkdev"):
            value = data.get(key, True)
            if not isinstance(value, bool):
                raise ValueError(f"device {key} must be true or false, got {value!r}")
            flags[key] = value
        discard = data.get("discard", "none")
        if discard not in DISCARD_KINDS:
            raise ValueError(f"device discard must be one of {', '.join(DISCARD_KINDS)}, got {discard!r}")
        return cls(size, priority, tuple(bad), flags["solidstate"], flags["blkdev"], discard)


@dataclass(frozen=True)
class Geometry:
    """Cluster size, number of swap types and the devices swapped on at the start."""

    cluster_size: int
    max_swapfiles: int
    devices: tuple[DeviceSpec, ...]

    def impl_kwargs(self) -> dict[str, int]:
        """Constructor keywords of every implementation."""
        return {"cluster_size": self.cluster_size, "max_swapfiles": self.max_swapfiles}

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster_size": self.cluster_size,
            "max_swapfiles": self.max_swapfiles,
            "devices": [d.to_dict() for d in self.devices],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Geometry:
        """Parse the JSON form; ValueError with a one-line message on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"a geometry must be an object, got {type(data).__name__}")
        unknown = set(data) - {"cluster_size", "max_swapfiles", "devices"}
        if unknown:
            raise ValueError(f"unknown geometry field(s): {', '.join(sorted(unknown))}")
        cluster_size = _int_field(data, "cluster_size", required=True)
        devices = data.get("devices", [])
        if not isinstance(devices, list):
            raise ValueError("geometry devices must be a list")
        specs = tuple(DeviceSpec.from_dict(d) for d in devices)
        max_swapfiles = data.get("max_swapfiles", max(1, len(specs)))
        if isinstance(max_swapfiles, bool):
            raise ValueError(f"max_swapfiles must be an integer, got {max_swapfiles!r}")
        # The constructors' own check, so a geometry that parses is one every implementation takes.
        api.check_geometry(cluster_size, max_swapfiles)
        return cls(cluster_size, max_swapfiles, specs)


def _int_field(data: dict, key: str, *, required: bool = False) -> int:
    if key not in data:
        raise ValueError(f"missing field {key!r}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value


def draw_device(chooser: Chooser, cluster_size: int, *, small: bool = True) -> DeviceSpec:
    """A device of 1-12 clusters (1-64 if not small), maybe with a short last cluster and bad
    pages.  Every choice shrinks toward a plain, whole-cluster, SSD-like device."""
    clusters = chooser.integer(1, 12 if small else 64)
    # The short tail's ends (1 and cluster_size - 1) are the padding's boundaries.
    short = draw_int(chooser, 1, cluster_size - 1) if chooser.boolean(0.3) else 0
    size = max(2, clusters * cluster_size - short)
    bad: list[int] = []
    if chooser.boolean(0.3):
        # Bad pages around cluster starts and bitmap words: first/last slot of a cluster or a
        # large folio's range, and the device's last slot.
        edges = (*range(cluster_size, size, cluster_size), *range(WORD_BITS, size, WORD_BITS), size - 1)
        for _ in range(min(chooser.integer(1, 3), size - 2)):
            page = draw_int(chooser, 1, size - 1, edges)
            if page not in bad:
                bad.append(page)
    priority = chooser.choice((None, None, 0, 1, 1, 2))
    if chooser.boolean(BOUNDARY_P):
        priority = chooser.choice(near(PRIORITY_LIMITS, 0, MAX_SWAP_PRIO))
    solidstate = not chooser.boolean(0.25)
    blkdev = not chooser.boolean(0.15)
    if not blkdev:
        bad = []  # read_swap_header: a swap file may not list bad pages
    discard = chooser.weighted({"none": 2.0, "pages": 2.0, "once": 1.0})
    return DeviceSpec(size, priority, tuple(sorted(bad)), solidstate, blkdev, discard)


def draw_geometry(chooser: Chooser, *, small: bool = True) -> Geometry:
    """Cluster size 4..64 (4..512 if not small), 1-4 devices, up to two spare swap types."""
    cluster_size = 1 << chooser.integer(2, 6 if small else 9)
    devices = tuple(draw_device(chooser, cluster_size, small=small) for _ in range(chooser.integer(1, 4)))
    return Geometry(cluster_size, len(devices) + chooser.integer(0, 2), devices)


# Named geometries that reach corners a drawn geometry rarely combines (used by the fixed-
# geometry tests; campaigns may name them too).
NAMED_GEOMETRIES: dict[str, Geometry] = {
    # One rotational device that discards pages, smallest clusters: the discard list,
    # synchronous discard and the per-device (not per-CPU) hint.
    "hdd-discard": Geometry(4, 2, (DeviceSpec(37, discard="pages", solidstate=False),)),
    # Memory pressure: one small discard-pages SSD that fills up, so order-0 allocation falls
    # back to order stealing, reclaim inside the scan and synchronous discard.
    "pressure": Geometry(8, 2, (DeviceSpec(40, discard="pages"),)),
    # Two SSDs of equal priority: round robin (device rotation) per cluster.
    "twin-ssds": Geometry(8, 3, (DeviceSpec(48, priority=1), DeviceSpec(40, priority=1, discard="once"))),
    # Every kind at once and no spare type (swapon gets -EPERM): a swap file (no large
    # folios), bad pages, a short last cluster, default and explicit priorities.
    "mixed": Geometry(
        16,
        4,
        (
            DeviceSpec(61, bad=(5, 17, 40)),
            DeviceSpec(48, priority=2, blkdev=False),
            DeviceSpec(33, solidstate=False, discard="pages"),
            DeviceSpec(20, priority=0, bad=(19,)),
        ),
    ),
    # Cluster size 64: order-6 (PMD) folios that take a whole cluster, on two clusters.
    "huge": Geometry(64, 2, (DeviceSpec(128),)),
}
