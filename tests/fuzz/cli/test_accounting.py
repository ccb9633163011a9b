"""`--level accounting` through the command: the "validate a policy change" workflow of docs/accounting.md."""

from __future__ import annotations

import json

import pytest

from tests.clikit import assert_one_line_error, swapdiff

POLICY = "fuzz.policy_examples:FreeClusterFirst"
LAYERED = "tests.fuzz.policy_impls:FreeFirstForkLoss"


@pytest.fixture(scope="module")
def layered_campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("layered")
    args = ("--level", "accounting", "--no-same-device", "--profile", "fork", "--steps", "4000")
    proc = swapdiff("fuzz", "--impl", LAYERED, *args, "--out", "out", "--quiet", cwd=out)
    return proc, out / "out"


def test_a_correct_policy_change_passes(tmp_path) -> None:
    args = ("--level", "accounting", "--no-same-device", "--steps", "3000", "--quiet")
    proc = swapdiff("fuzz", "--impl", POLICY, *args, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["config"]["level"] == "accounting"


def test_the_layered_bug_fails_readably_and_replays_at_its_level(layered_campaign) -> None:
    proc, out = layered_campaign
    assert proc.returncode == 1, proc.stdout + proc.stderr
    traces = sorted(out.glob("swap_dup_entry_direct-*.jsonl"))
    assert traces, proc.stdout
    header = json.loads(traces[0].read_text().splitlines()[0])
    assert header["level"] == "accounting" and header["same_device"] is False
    replay = swapdiff("replay", str(traces[0]), cwd=out)
    assert replay.returncode == 1
    assert "candidate ran swap_dup_entry_direct(entry=Entry(" in replay.stdout
    assert "(candidate Entry(" in replay.stdout  # the paired-slot diff names both entries
    clean = swapdiff("replay", str(traces[0]), "--impl", POLICY, cwd=out)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    small = swapdiff("minimize", str(traces[0]), "--max-time", "60s", cwd=out)
    assert small.returncode == 0, small.stdout + small.stderr
    minimized = traces[0].with_name(traces[0].name.replace(".jsonl", ".min.jsonl"))
    assert json.loads(minimized.read_text().splitlines()[0])["level"] == "accounting"


def test_a_bad_level_is_one_line(tmp_path) -> None:
    assert_one_line_error(swapdiff("fuzz", "--level", "placement", cwd=tmp_path), "--level")
