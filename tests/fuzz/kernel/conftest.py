"""Kernel-lane test fixtures: skip (with the lane's own reason) where the host cannot run it,
and assert after the session that no swap device, lane file or changed setting is left behind.

Every test here runs on one xdist worker (group "kernel", `--dist loadgroup` in pyproject;
the VM tests, which leave the host's swap alone, are group "vm"):
some tests change host state outside the lane lock on purpose (a foreign swap device, a stale
lane device), which a lane run in flight on another worker would see as a divergence."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from fuzz.kernel.device import (
    LANE_DIR,
    LOCK_PATH,
    PAGE_CLUSTER,
    THP_ENABLED,
    KernelUnavailable,
    check_host,
    mthp_switches,
    proc_swaps,
)
from fuzz.kernel.reclaimers import describe as reclaimers_state


def _thp() -> dict[str, str]:
    """The top-level THP switch and every per-size anonymous mTHP switch."""
    switches = {0: THP_ENABLED, **mthp_switches()} if THP_ENABLED.exists() else mthp_switches()
    return {str(size): path.read_text().strip() for size, path in switches.items()}


def _lane_files() -> list[Path]:
    return sorted(LANE_DIR.glob("*")) if LANE_DIR.is_dir() else []


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        # a module with its own group keeps it (test_vm/test_matrix: "vm", guests only)
        if here in Path(item.path).parents and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("kernel"))


@pytest.fixture(scope="session", autouse=True)
def host_left_clean():
    try:
        check_host()
    except KernelUnavailable:
        yield
        return
    before = _state_locked()
    yield
    after = _state_locked()
    assert after == before, f"kernel lane tests changed host state: {before} -> {after}"


def _state_locked() -> tuple:
    """Host state read while holding the lane lock (no lane run is mid-flight)."""
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return (
            PAGE_CLUSTER.read_text(),
            _thp(),
            [r["filename"] for r in proc_swaps()],
            _lane_files(),
            reclaimers_state(),
        )
    finally:
        os.close(fd)


@pytest.fixture
def kernel_host_ok() -> None:
    """Skip with the lane's one-line reason unless this host can run it."""
    try:
        check_host()
    except KernelUnavailable as err:
        pytest.skip(str(err))
    # Devices of another lane run are fine: KernelHost waits for that run's lock.
    others = [r["filename"] for r in proc_swaps() if not r["filename"].startswith(f"{LANE_DIR}/")]
    if others:
        pytest.skip(f"other swap devices are active: {others}")
