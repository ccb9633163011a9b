"""The machine-wide lock around a process's first call of each kernel (optimized/firstcall.py)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core import config

from optimized.firstcall import compile_lock, lock_first_calls, lock_path

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_call_goes_through_the_lock_then_the_kernel_itself_is_called():
    calls = []

    def kernel(x):
        calls.append(x)
        return x + 1

    table = lock_first_calls({"k": kernel})
    if config.DISABLE_JIT:
        assert table["k"] is kernel  # nothing compiles without the JIT
        return
    assert table["k"] is not kernel
    assert table["k"](1) == 2
    assert table["k"] is kernel  # the stand-in is gone after its one call
    assert table["k"](2) == 3 and calls == [1, 2]


def test_the_lock_lives_in_numbas_cache_dir_and_excludes_other_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    assert lock_path() == str(tmp_path / "swapdiff-compile.lock")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", "from optimized.firstcall import compile_lock\n"
         "with compile_lock():\n    print('held', flush=True)\n    input()"],
        env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        fd = os.open(lock_path(), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        holder.communicate("\n", timeout=60)
    with compile_lock():  # released by the holder's exit
        pass


_PROBE = """
import json
from optimized import OptimizedSwap
from optimized import kernels as k
OptimizedSwap(cluster_size=8)  # builds the folio hash: the first call of kernels.rehash
stats = k.rehash.stats
print(json.dumps([sum(stats.cache_misses.values()), sum(stats.cache_hits.values())]))
"""


@pytest.mark.skipif(bool(config.DISABLE_JIT), reason="compiles and caches a kernel: needs the JIT")
def test_processes_started_together_compile_a_kernel_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _PROBE], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    counts = [json.loads(proc.communicate(timeout=600)[0].strip().splitlines()[-1]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    # One process compiled it (a cache miss); the other waited for the lock and loaded it.
    assert sorted(counts) == [[0, 1], [1, 0]]
