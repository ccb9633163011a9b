"""`swapdiff bench`: its rows, its one table, its JSON, and its one-line errors (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from rich.console import Console

from fuzz.cli.bench import implementations, print_rows
from fuzz.cli.bench.harness import harness_rows
from fuzz.cli.bench.implementations import run_bench
from fuzz.cli.bench.lane import lane_row
from tests.clikit import assert_one_line_error, cli_env, swapdiff

ROW_KEYS = {"kind", "name", "value", "unit", "target", "ok"}


def _table(rows) -> str:
    console = Console(record=True, width=200)
    print_rows(rows, console=console)
    return console.export_text()


def test_implementation_rows_agree_with_their_targets():
    rows = run_bench(("churn",), repeat=1, memory_slots=4096, startup=False)
    assert [(r["kind"], r["name"]) for r in rows] == [("trace", "churn"), ("memory", "bytes_per_slot")]
    for row in rows:
        assert set(row) >= ROW_KEYS
        assert row["value"] > 0
        assert row["ok"] == (
            row["value"] >= row["target"] if row["kind"] == "trace" else row["value"] <= row["target"]
        )
    trace = rows[0]
    assert (
        trace["value"] == round(trace["optimized_ops_per_s"] / trace["reference_ops_per_s"], 2)
        or trace["value"] > 0
    )
    text = _table(rows)
    assert "trace: churn" in text and "memory: bytes_per_slot" in text and "ops/s" in text


def test_harness_rows_measure_every_mode_in_one_table():
    rows = harness_rows(seconds=0.3, yardstick_size={"max_examples": 2, "step_count": 5})
    names = [r["name"] for r in rows]
    for name in (
        "yardstick_trivial_steps_per_s",
        "yardstick_machine_steps_per_s",
        "machine_vs_yardstick",
        "trivial_machine_steps_per_s",
        "hypothesis_steps_per_s",
        "hypothesis_steps_per_s:kbuild",
        "machine_vs_trivial",
        "draws_per_step:default",
        "fast_steps_per_s",
        "fast_chunked_steps_per_s",
    ):
        assert name in names
    by_name = {r["name"]: r for r in rows}
    for name in ("trivial_machine_steps_per_s", "hypothesis_steps_per_s", "fast_steps_per_s"):
        assert by_name[name]["steps"] > 0 and by_name[name]["value"] > 0
    ratio = by_name["machine_vs_trivial"]
    expected = by_name["hypothesis_steps_per_s"]["value"] / by_name["trivial_machine_steps_per_s"]["value"]
    assert abs(ratio["value"] - expected) < 0.01 and ratio["target"] is None
    # The yardstick: both machines ran their examples (the trivial one max_examples times
    # step_count steps; the warm-up ran only the differential machine), and the ratio row is
    # their quotient, judged against its target.
    trivial, machine = by_name["yardstick_trivial_steps_per_s"], by_name["yardstick_machine_steps_per_s"]
    assert trivial["steps"] == 2 * 5
    assert machine["steps"] > 0 and trivial["cpu_s"] > 0 and machine["cpu_s"] > 0
    share = by_name["machine_vs_yardstick"]
    assert abs(share["value"] - machine["value"] / trivial["value"]) < 0.01
    assert share["target"] == 0.6 and share["ok"] == (share["value"] >= 0.6) and share["cpu_ratio"] > 0
    text = _table(rows)
    assert "harness: trivial machine (yardstick)" in text and "harness: fast mode" in text
    assert "issue-25 yardstick: machine / trivial" in text


def test_startup_rows_time_a_fresh_interpreter_cold_then_warm(monkeypatch):
    # The rows' plumbing, with a stand-in for the compile: the script reports its two times
    # and whether numba's cache directory (one temporary directory for both runs) was empty.
    script = (
        "import os, sys; empty = not os.listdir(os.environ['NUMBA_CACHE_DIR']); "
        "open(os.path.join(os.environ['NUMBA_CACHE_DIR'], 'seen'), 'w').close(); "
        "print(*([1.0, 2.0, 0.5, 1.5] if empty else [0.25, 0.5, 0.25, 0.75]))"
    )
    monkeypatch.setattr(implementations, "_STARTUP_SCRIPT", script)
    # The fast-mode script gets an empty cache directory of its own.
    monkeypatch.setattr(implementations, "_FAST_STARTUP_SCRIPT", script.replace("1.0, 2.0", "16.0, 20.0"))
    rows = implementations.bench_startup()
    names = [r["name"] for r in rows]
    assert names == [
        "first_step_cold_s",
        "cold_compile_s",
        "first_step_warm_s",
        "warm_start_s",
        "fast_first_step_cold_s",
        "fast_batch_cold_s",
    ]
    assert [r["value"] for r in rows] == [1.0, 2.0, 0.25, 0.5, 16.0, 20.0]
    for row in rows:
        assert set(row) >= ROW_KEYS and row["kind"] == "startup"
    assert [r["cpu_s"] for r in rows] == [0.5, 1.5, 0.25, 0.75, 0.5, 1.5]
    targets = [(r["target"], r["ok"]) for r in rows]
    assert targets == [(15.0, True), (None, None), (None, None), (2.0, True), (15.0, False), (None, None)]
    text = _table(rows)
    assert "startup: first_step_cold_s" in text and "CPU s" in text


def test_the_startup_script_reaches_a_compared_step_then_every_kernel():
    """The real script, with this checkout's numba cache (warm once any test compiled)."""
    env = cli_env()
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run(
        [sys.executable, "-c", implementations._STARTUP_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    first, total, first_cpu, total_cpu = (float(x) for x in out.stdout.split())
    assert 0 < first <= total and 0 < first_cpu <= total_cpu


def test_the_fast_startup_script_reaches_a_method_chunk_then_a_batch_chunk():
    """The real fast-mode script, with this checkout's numba cache."""
    env = cli_env()
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run(
        [sys.executable, "-c", implementations._FAST_STARTUP_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    first, batch, first_cpu, batch_cpu = (float(x) for x in out.stdout.split())
    assert 0 < first < batch and 0 < first_cpu < batch_cpu


def test_the_command_writes_every_row_as_json(tmp_path):
    proc = swapdiff("bench", "--implementations-only", "--no-startup", "--json", "rows.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert {r["kind"] for r in rows} == {"trace", "memory"}
    assert all(set(r) >= ROW_KEYS for r in rows)
    assert "swapdiff bench" in proc.stdout and "trace: usemem" in proc.stdout


def test_bad_arguments_are_one_line_errors(tmp_path):
    for args, needle in (
        (("--seconds", "0"), "--seconds must be positive"),
        (("--profile", "turbo"), "unknown profile"),
        (("--impl", "nosuch.module:Swap"), "nosuch"),
        (("--harness-only", "--implementations-only"), "not allowed with"),
    ):
        proc = swapdiff("bench", *args, cwd=tmp_path)
        assert_one_line_error(proc, needle)


def test_a_lane_row_that_cannot_run_says_why_in_one_line(tmp_path):
    """No staged kernel where --kernels points: the lane's own one-line reason, no value, no traceback."""
    row = lane_row(steps=5, seed=1, vm="no-such-kernel", kernels=str(tmp_path))
    assert set(row) >= ROW_KEYS and row["name"] == "lane_steps_per_s:vm:no-such-kernel"
    assert row["value"] is None and row["exit"] == 2
    assert (
        row["skipped"].startswith("swapdiff kernel: error: --kernels") and "Traceback" not in row["skipped"]
    )
    text = _table([row])
    assert "lane: lane_steps_per_s:vm:no-such-kernel" in text and "not run:" in text
