"""Kernel-lane test fixtures: the host's swap is owned by one test at a time, a test that cannot
own it waits (bounded) and then fails rather than skips, and after the session no swap device,
lane file or changed setting is left behind.

Serialisation does not depend on hook ordering: every module here declares `pytestmark =
[pytest.mark.kernel, pytest.mark.xdist_group("kernel")]` statically (`--dist loadgroup` sends
the group to one worker), tests/conftest.py refuses a lane test without it, and `kernel_host_ok`
holds a host-wide test lock for the test's duration, so even a second pytest session on the
same host (another checkout, a developer's shell) cannot interleave with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
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

TEST_LOCK_PATH = Path("/run/lock/swapdiff-kernel-tests.lock")
TEST_LOCK_WAIT = 900.0  # another session's whole kernel group, with room
FOREIGN_SWAP_WAIT = 60.0


def _thp() -> dict[str, str]:
    """The top-level THP switch and every per-size anonymous mTHP switch."""
    switches = {0: THP_ENABLED, **mthp_switches()} if THP_ENABLED.exists() else mthp_switches()
    return {str(size): path.read_text().strip() for size, path in switches.items()}


def _lane_files() -> list[Path]:
    return sorted(LANE_DIR.glob("*")) if LANE_DIR.is_dir() else []


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
def kernel_host_ok() -> Iterator[None]:
    """Own the host's swap for one test: skip (with the lane's one-line reason) only where this
    host cannot run the lane at all; otherwise take the test lock and wait for foreign swap
    devices to go, failing with their names if they stay."""
    try:
        check_host()
    except KernelUnavailable as err:
        pytest.skip(str(err))
    with host_test_lock():
        deadline = time.monotonic() + FOREIGN_SWAP_WAIT
        while others := _foreign_swap():
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"swap devices not created by swapdiff stayed active for {FOREIGN_SWAP_WAIT:.0f}s: "
                    f"{others}; the kernel-lane tests need the host's swap to themselves (swapoff them, "
                    "or deselect these tests with -m 'not kernel')",
                    pytrace=False,
                )
            time.sleep(0.5)
        yield


def _foreign_swap() -> list[str]:
    # Devices of another lane run are fine: KernelHost waits for that run's lock.
    return [r["filename"] for r in proc_swaps() if not r["filename"].startswith(f"{LANE_DIR}/")]


@contextlib.contextmanager
def host_test_lock() -> Iterator[None]:
    """The host-wide lock of kernel-lane tests (not the lane's own lock, which the test's
    KernelHost takes inside it: flock locks of two open files conflict even in one process)."""
    TEST_LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(TEST_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + TEST_LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    pytest.fail(
                        f"another kernel-lane test session held {TEST_LOCK_PATH} for {TEST_LOCK_WAIT:.0f}s",
                        pytrace=False,
                    )
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
