"""`swapdiff bench`: its rows, its one table, its JSON, and its one-line errors (no speed asserted)."""

from __future__ import annotations

import json

from rich.console import Console

from fuzz.cli.bench import print_rows
from fuzz.cli.bench.harness import harness_rows
from fuzz.cli.bench.implementations import run_bench
from tests.clikit import assert_one_line_error, swapdiff

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
    rows = harness_rows(seconds=0.3)
    names = [r["name"] for r in rows]
    for name in (
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
    assert abs(ratio["value"] - expected) < 0.01 and ratio["ok"] == (ratio["value"] >= ratio["target"])
    text = _table(rows)
    assert "harness: trivial machine (yardstick)" in text and "harness: fast mode" in text


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
