"""Shared by the VM tests: where the staged kernels are, running `swapdiff kernel` as a
subprocess, and checking that no QEMU of a run outlives it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fuzz.kernel.vm import VmError, check_tools

REPO = Path(__file__).resolve().parents[3]
# CI clones the repo beside shared/; a worktree elsewhere points SWAPDIFF_KERNELS at it.
KERNELS = Path(os.environ.get("SWAPDIFF_KERNELS") or REPO.parent / "shared" / "kernels")
# a hang guard for the subprocess, far above every bound the runs set themselves
HANG_GUARD = 1800


def need_vm() -> Path:
    """The kernels directory, or a skip saying what is missing."""
    if not KERNELS.is_dir():
        pytest.skip(f"no staged kernels at {KERNELS} (../shared/kernels beside the repo)")
    try:
        check_tools()
    except VmError as err:
        pytest.skip(str(err))
    return KERNELS


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    pid: int  # of the swapdiff process: its QEMU is named swapdiff-PID


def start(*args: str) -> subprocess.Popen[str]:
    """`swapdiff kernel *args` from this checkout, as a subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "fuzz.cli", "kernel", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def swapdiff_kernel(*args: str, timeout: float = HANG_GUARD) -> Run:
    """Run `swapdiff kernel *args` to the end; then no QEMU of it may be left."""
    proc = start(*args)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    assert qemus_of(proc.pid) == [], "a QEMU outlived its swapdiff run"
    return Run(proc.returncode, out, err, proc.pid)


def qemus_of(pid: int) -> list[str]:
    """QEMU processes a swapdiff process `pid` started (vng --name swapdiff-PID)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-x86_64") and f"swapdiff-{pid}".encode() in argv:
            found.append(proc.name)
    return found
