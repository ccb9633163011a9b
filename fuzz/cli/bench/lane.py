"""Kernel-lane benchmark rows: world steps per second of `swapdiff kernel` on the host or in a VM.

Each row runs `swapdiff kernel --steps N --seed S` (with `--vm KERNEL --kernels DIR` in a
guest) as a child process of this checkout and reads the lane's own "N steps in T s" line:
steps per second of lane time (the run's setup included: KernelHost, the probe, the first
swapon, the helper's start; the interpreter's imports excluded), the lane's CPU seconds
(the run and every process it waited for: the helper, its children, QEMU for a VM row) and
the exit code.  A host that cannot run the lane (not root, other swap devices active) gives a
row with `value` None and the lane's one-line reason in `skipped`; so does a run that
diverged or failed (a benchmark reports, it does not judge).  Rows: `kind` "lane", `name`
"lane_steps_per_s" or "lane_steps_per_s:vm:KERNEL", unit steps/s, no target.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RATE_LINE = re.compile(r"^(\d+) steps in ([\d.]+)s \(")
ROOT = Path(__file__).resolve().parents[3]  # the checkout holding fuzz/, reference/, optimized/


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def lane_row(*, steps: int, seed: int, vm: str | None = None, kernels: str | None = None) -> dict[str, Any]:
    """One lane run's row (see the module docstring)."""
    argv = [sys.executable, "-m", "fuzz.cli", "kernel", "--steps", str(steps), "--seed", str(seed)]
    name = "lane_steps_per_s"
    if vm is not None:
        argv += ["--vm", vm] + (["--kernels", kernels] if kernels else [])
        name += f":vm:{vm}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        out, err = proc.communicate()
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    row: dict[str, Any] = {"kind": "lane", "name": name, "unit": "steps/s", "target": None, "ok": None}
    row.update(exit=proc.returncode, wall_s=round(wall, 2), cpu_s=round(cpu, 2))
    found = [m for m in map(RATE_LINE.match, out.splitlines()) if m]
    if proc.returncode != 0 or not found:
        lines = [line for line in (err.strip() or out.strip()).splitlines() if line.strip()]
        row.update(value=None, skipped=lines[-1] if lines else f"exit {proc.returncode}")
        return row
    done, seconds = int(found[-1].group(1)), float(found[-1].group(2))
    row.update(value=done / seconds if seconds else 0.0, steps=done, seconds=seconds)
    return row


def lane_rows(
    *, steps: int, seed: int = 1, vms: list[str] | None = None, kernels: str | None = None
) -> list[dict[str, Any]]:
    """The host row, then one row per VM kernel."""
    rows = [lane_row(steps=steps, seed=seed)]
    rows += [lane_row(steps=steps, seed=seed, vm=vm, kernels=kernels) for vm in vms or []]
    return rows
