"""swapdiff's harness: drive two implementations of the swap API in lockstep and compare them.

Three layers, each importing only from the ones before it:

- the library (this package's modules): `fuzz.world` models the rest of mm (processes, page
  tables, shmem, hibernation, swapoff) and issues API calls through an executor;
  `fuzz.lockstep` is the executor that runs each call on a reference and a candidate and
  raises `Divergence` on the first difference (through `fuzz.replay`'s comparator, which
  also replays traces); `fuzz.trace` is the trace format, `fuzz.minimize` shrinks a failing
  trace, `fuzz.workloads` holds the workload profiles, `fuzz.choosers` the sources of
  choices, `fuzz.events` the coverage labels, `fuzz.swarm` the per-episode action subsets.
- the modes (`fuzz.modes`): the Hypothesis state machine (`make_machine`, with settings
  profiles in `fuzz.modes.hypothesis_settings`), fast seeded episodes (`run_episode`) and one
  Hypothesis campaign round.
- the application (`fuzz.cli`): the `swapdiff` command, campaigns, reports, benchmarks; the
  kernel lane (`fuzz.kernel`) and the mutants (`fuzz.mutants`) are subcommands beside it.

The names below are the public surface; everything else may change between versions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The names are imported on first use (PEP 562): `swapdiff kernel` and the kernel lane need
# none of them, and importing them loads Numba, which in a TCG guest (`--vm`) takes minutes.
_SOURCES = {
    "PROFILES": "fuzz.workloads",
    "DeviceSpec": "fuzz.world",
    "Divergence": "fuzz.lockstep",
    "EpisodeResult": "fuzz.modes.fast",
    "Geometry": "fuzz.world",
    "Lockstep": "fuzz.lockstep",
    "MinimizeResult": "fuzz.minimize",
    "ReplayOutcome": "fuzz.replay",
    "Trace": "fuzz.trace",
    "TraceError": "fuzz.trace",
    "World": "fuzz.world",
    "make_machine": "fuzz.modes.machine",
    "minimize_trace": "fuzz.minimize",
    "profile_settings": "fuzz.modes.hypothesis_settings",
    "read_trace": "fuzz.trace",
    "replay_trace": "fuzz.replay",
    "run_episode": "fuzz.modes.fast",
    "write_trace": "fuzz.trace",
}

if TYPE_CHECKING:
    from fuzz.lockstep import Divergence, Lockstep
    from fuzz.minimize import MinimizeResult, minimize_trace
    from fuzz.modes.fast import EpisodeResult, run_episode
    from fuzz.modes.hypothesis_settings import profile_settings
    from fuzz.modes.machine import make_machine
    from fuzz.replay import ReplayOutcome, replay_trace
    from fuzz.trace import Trace, TraceError, read_trace, write_trace
    from fuzz.workloads import PROFILES
    from fuzz.world import DeviceSpec, Geometry, World


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module 'fuzz' has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "PROFILES",
    "DeviceSpec",
    "Divergence",
    "EpisodeResult",
    "Geometry",
    "Lockstep",
    "MinimizeResult",
    "ReplayOutcome",
    "Trace",
    "TraceError",
    "World",
    "make_machine",
    "minimize_trace",
    "profile_settings",
    "read_trace",
    "replay_trace",
    "run_episode",
    "write_trace",
]
