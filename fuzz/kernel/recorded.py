"""Recorded kernel-lane traces: the kernel's observations after every step, checked on any host.

`swapdiff kernel --record FILE` writes the run's trace with, on every action record, what the
kernel showed after that step ("observed"): every process's swap entry of each tracked
anonymous page (model swap types), each lane device's Used, SwapFree and SwapCached (pages,
lane devices only), and the swap I/O since the start.  The first device's and every swapon's
outcome (type or -errno, solid-state or not) are recorded too, so the model can be rebuilt
without the kernel.  `check_recorded` replays such a trace on the model alone under a chosen
rule set and names the first step where the model's prediction differs from the recording:
a trace recorded on one release is a regression test of that release's rules that needs no VM.
The model-side dispatch (`model_step`) mirrors `Lane.step`; an op it does not know is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fuzz.kernel.rules import RULES
from fuzz.kernel.trace import EXTRA_DEVICE_PAGES, read_kernel_trace
from fuzz.kernel.world import HELPER, ModelWorld
from fuzz.trace import TraceError

OBSERVED_KEYS = ("entries", "used", "swap_free", "swap_cached", "reads", "writes")


def model_observed(world: ModelWorld, types: list[int]) -> dict[str, Any]:
    """The model's values of what a recorded step holds (`types`: the live lane devices)."""
    entries = {
        proc: [[st[1].type, st[1].offset] if st is not None and st[0] == "s" else None for st in pages]
        for proc, pages in sorted(world.procs.items())
    }
    return {
        "entries": entries,
        "used": {str(t): world.inuse(t) for t in sorted(types)},
        "swap_free": world.ref.nr_swap_pages(),
        "swap_cached": world.swap_cached_pages(),
        "reads": world.reads,
        "writes": world.writes,
    }


def model_step(world: ModelWorld, action: dict[str, Any], outcome: dict[str, Any] | None) -> None:
    """Apply one lane action to the model, as `Lane.step` does after the kernel ran it.
    `outcome`: a swapon's recorded result ({"rc", "solidstate"})."""
    op = action["op"]
    if op == "pageout":
        world.pageout(action["start"], action["n"])
    elif op in ("read", "write"):
        world.fault(action["page"], op == "write")
    elif op == "store":
        world.store(action["page"])
    elif op == "zap":
        world.zap(HELPER, action["start"], action["n"])
    elif op == "fork":
        world.fork(action["child"])
    elif op == "child_exit":
        world.child_exit(action["child"])
    elif op == "lpageout":
        world.large_pageout(action["start"], action["n"])
    elif op in ("lread", "lwrite"):
        world.large_fault(action["page"], op == "lwrite")
    elif op == "lzap":
        world.large_zap(action["start"], action["n"])
    elif op == "spageout":
        world.shm_pageout(action["start"], action["n"])
    elif op == "sread":
        world.shm_read(action["page"])
    elif op == "swrite":
        world.shm_write(action["page"])
    elif op == "szap":
        world.shm_zap(action["start"], action["n"])
    elif op == "spunch":
        world.shm_punch(action["start"], action["n"])
    elif op == "swapon":
        if outcome is None:
            raise TraceError("a recorded swapon needs its outcome")
        kind = {"bad": action["bad"], "blkdev": action["blkdev"], "discard": action["discard"]}
        world.swapon(EXTRA_DEVICE_PAGES, action["priority"], solidstate=outcome["solidstate"], **kind)
    elif op == "swapoff":
        problem = world.swapoff(action["type"])
        if problem is not None:
            raise TraceError(problem)
    else:
        raise TraceError(f"op {op!r} cannot be checked against a recording")
    world.sweep()


def read_recorded(path: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(header, actions, observations) of a recorded trace; a trace without observations on
    every action, or without the first device's record, is a TraceError."""
    header, actions = read_kernel_trace(path)
    if not isinstance(header.get("first_device"), dict):
        raise TraceError(f"{path}:1: not a recorded trace (no first_device in the header)")
    observed = []
    for k, line in enumerate(Path(path).read_text().splitlines()[1:], start=2):
        obs = json.loads(line).get("observed")
        if not isinstance(obs, dict) or set(obs) - {"swapon"} != set(OBSERVED_KEYS):
            raise TraceError(f"{path}:{k}: no kernel observation recorded (keys {', '.join(OBSERVED_KEYS)})")
        observed.append(obs)
    return header, actions, observed


def check_recorded(path: str, semantics: str) -> tuple[int, str] | None:
    """Replay a recorded trace on the model under `semantics`; (step, difference) of the first
    step whose prediction differs from the kernel's recording, or None if all agree."""
    header, actions, observed = read_recorded(path)
    first = header["first_device"]
    mthp = header.get("mthp") or {}
    world = ModelWorld(
        header["pages"],
        rules=RULES[semantics],
        shm_pages=header.get("shm_pages", 0),
        large_order=mthp.get("order", 0),
        large_folios=mthp.get("folios", 0),
    )
    types = [
        world.swapon(
            first["pages"],
            first["priority"],
            bad=[],
            solidstate=first["solidstate"],
            blkdev=first["blkdev"],
            discard="none",
        )
    ]
    for i, (action, obs) in enumerate(zip(actions, observed, strict=True)):
        model_step(world, action, obs.get("swapon"))
        if action["op"] == "swapon" and obs["swapon"]["rc"] >= 0:
            types.append(obs["swapon"]["rc"])
        if action["op"] == "swapoff":
            types.remove(action["type"])
        predicted = model_observed(world, types)
        diff = [_difference(k, obs[k], predicted[k]) for k in OBSERVED_KEYS if obs[k] != predicted[k]]
        if diff:
            return i, "; ".join(diff)
    return None


def _difference(key: str, kernel: Any, model: Any) -> str:
    """One observable's difference; for the entries, the first page that differs."""
    if key == "entries" and isinstance(kernel, dict) and set(kernel) == set(model):
        for proc, pages in kernel.items():
            for p, (k, m) in enumerate(zip(pages, model[proc], strict=False)):
                if k != m:
                    return f"{proc} page {p} entry: kernel {k}, model {m}"
    return f"{key}: kernel {kernel}, model {model}"
