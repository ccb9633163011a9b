"""The world model: "the rest of mm" that drives the swap API the way the kernel does.

`geometry` (devices), `executors` (how calls are issued), `state` (processes, folios,
shmem, devices), `registry` (actions and their conditions) and `model` (the World and its
actions).  The names below are the package's surface."""

from __future__ import annotations

from fuzz.world.executors import (
    DirectExecutor,
    Executor,
    MisuseAccepted,
)
from fuzz.world.geometry import (
    NAMED_GEOMETRIES,
    DeviceSpec,
    Geometry,
    draw_device,
    draw_geometry,
)
from fuzz.world.model import (
    ACTION_NAMES,
    CONDITION_NAMES,
    LEAD_ACTIONS,
    MISUSE_ACTIONS,
    World,
)
from fuzz.world.registry import (
    ACTIONS,
    CONDITIONS,
    ActionSpec,
    Condition,
    action,
    condition,
)
from fuzz.world.state import (
    HIB_FREED_MEMORY,
    MAX_FANOUT_PROCESSES,
    MAX_PROCESSES,
    PAGE,
    RECLAIMING_CALLS,
    SWAP,
    Device,
    Folio,
    Process,
    Shmem,
    Summary,
)

__all__ = [
    "ACTIONS",
    "ACTION_NAMES",
    "CONDITIONS",
    "CONDITION_NAMES",
    "HIB_FREED_MEMORY",
    "LEAD_ACTIONS",
    "MAX_FANOUT_PROCESSES",
    "MAX_PROCESSES",
    "MISUSE_ACTIONS",
    "NAMED_GEOMETRIES",
    "PAGE",
    "RECLAIMING_CALLS",
    "SWAP",
    "ActionSpec",
    "Condition",
    "Device",
    "DeviceSpec",
    "DirectExecutor",
    "Executor",
    "Folio",
    "Geometry",
    "MisuseAccepted",
    "Process",
    "Shmem",
    "Summary",
    "World",
    "action",
    "condition",
    "draw_device",
    "draw_geometry",
]
