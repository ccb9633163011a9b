"""`swapdiff kernel --matrix`: every staged kernel boots and runs a short lane that agrees
(the one boot per kernel of the VM tests), the table and matrix.json say so; the rule-set
choice for releases without their own and the matrix's exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.kernel.matrix import Row, exit_code, rules_for
from tests.fuzz.kernel.vmtools import need_vm, swapdiff_kernel

pytestmark = [pytest.mark.vm, pytest.mark.xdist_group("vm")]

STEPS = 20


def test_every_staged_kernel_boots_and_agrees(tmp_path: Path) -> None:
    kernels = need_vm()
    names = sorted(d.name for d in kernels.iterdir() if list(d.glob("lib/modules/*/vmlinuz")))
    out = tmp_path / "out"
    run = swapdiff_kernel(
        "--matrix", "--no-host", "--kernels", str(kernels), "--accel", "tcg",
        "--steps", str(STEPS), "--seed", "3", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    data = json.loads((out / "matrix.json").read_text())
    assert data["seed"] == 3
    rows = {r["kernel"]: r for r in data["rows"]}
    assert sorted(rows) == names
    for name, row in rows.items():
        assert row["exit"] == 0 and row["result"] == "agree", row
        assert row["steps"] == STEPS
        assert row["release"] in name or name.startswith(row["release"].split("+")[0])
        assert row["boot_seconds"] is not None and row["boot_seconds"] > 0
        assert (out / name / "console.log").is_file()
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["kernel"] == row["release"] and summary["semantics"] == row["rules"]
    assert "swapdiff kernel matrix" in run.stdout
    for name in names:
        assert name in run.stdout


def test_a_release_without_rules_runs_with_the_newest_older_rule_set() -> None:
    assert rules_for("6.18.15+deb13-amd64", None, ["6.18"]) == ("6.18", False)
    assert rules_for("7.3.4+deb13-amd64", None, ["6.18"]) == ("6.18", True)
    assert rules_for("7.3.4", None, ["6.18", "7.2", "7.3"]) == ("7.3", False)
    assert rules_for("7.2.13+deb14-amd64", None, ["6.18", "7.3"]) == ("6.18", True)
    assert rules_for("6.1.0", None, ["6.18", "7.3"]) == ("6.18", True)
    assert rules_for("7.3.4", "6.18", ["6.18", "7.3"]) == ("6.18", True)


def row(exit: int | None) -> Row:
    return Row("k", "1.0", "vm", "6.18", False, exit)


@pytest.mark.parametrize(
    ("exits", "code"),
    [
        ([0, 0], 0),
        ([None, 0], 0),  # a skipped host row is not a failure
        ([0, 1, 3], 1),  # any divergence first
        ([0, 3], 3),
        ([2, 0], 2),
        ([None], 2),  # nothing ran
    ],
)
def test_matrix_exit_code(exits: list[int | None], code: int) -> None:
    assert exit_code([row(e) for e in exits]) == code
