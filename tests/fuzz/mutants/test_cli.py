"""`swapdiff mutants` through a subprocess: the table, the JSON, exit codes, usage errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.clikit import cli_env, swapdiff


def _swapdiff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return swapdiff("mutants", *args, cwd=cwd, env=cli_env(COLUMNS="200"), timeout=600)


@pytest.mark.slow
def test_one_mutant_prints_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    table = tmp_path / "table.json"
    proc = _swapdiff(
        "--only",
        "hib-double-nr-decrement",
        "--budget",
        "60",
        "--steps",
        "5000",
        "--mode",
        "fast",
        "--out",
        str(out),
        "--json",
        str(table),
        "--minimize-seconds",
        "10",
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hib-double-nr-decrement" in proc.stdout and "caught" in proc.stdout
    assert "caught 1/1" in proc.stdout
    data = json.loads(table.read_text())
    (row,) = data["results"]
    assert row["name"] == "hib-double-nr-decrement" and row["status"] == "caught"
    assert row["call"].startswith("swap_alloc_hibernation_slot")
    assert 1 <= row["min_len"] <= row["trace_len"]
    assert data["summary"]["caught"] == 1 and data["summary"]["survived"] == []
    assert Path(row["trace"]).is_file() and Path(row["min_trace"]).is_file()
    # The minimized trace is a real trace: replaying it against the real code agrees.
    replay = swapdiff("replay", row["min_trace"], "--impl", "optimized", cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--only", "no-such-mutant"), "unknown mutant 'no-such-mutant'"),
        (("--budget", "soon"), "--budget"),
        (("--workers", "0"), "--workers"),
        (("--mode", "slow"), "--mode"),
        (("--steps", "-3"), "--steps"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = _swapdiff(*args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "swapdiff-mutants").exists()


def test_list_and_check(tmp_path: Path) -> None:
    listed = _swapdiff("--list", cwd=tmp_path)
    assert listed.returncode == 0 and "hib-double-nr-decrement" in listed.stdout
    checked = _swapdiff("--check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "mutants apply" in checked.stdout
