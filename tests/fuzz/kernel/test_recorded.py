"""Recorded kernel-lane traces checked on the model alone: each release's regression traces
pass under that release's rules and fail under a rule set that differs there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.kernel import world as world_module
from fuzz.kernel.recorded import check_recorded, read_recorded
from fuzz.kernel.rules import RULES
from fuzz.trace import TraceError
from reference import api as reference_api
from tests.clikit import swapdiff

TRACES = Path(__file__).parent / "traces"

# trace -> rule set -> the step the model first differs from the recording (None: agrees).
# 6.18 and 7.3 decide fault-time freeing differently (refcount vs exclusive marker) but predict
# the same for every lane action: the lane keeps the refcount predictable (docs/kernel-releases.md).
EXPECTED = {
    "fault-free-by-release.6.18.jsonl": {"6.18": None, "7.2": 1, "7.3": None},
    "fault-free-by-release.7.2.jsonl": {"6.18": 1, "7.2": None, "7.3": 1},
    "fault-free-by-release.7.3.jsonl": {"6.18": None, "7.2": 1, "7.3": None},
    # more than half of swap in use: the same in every release (docs/kernel-releases.md)
    "swap-full.6.18.jsonl": {"6.18": None, "7.2": None, "7.3": None},
    "swap-full.7.2.jsonl": {"6.18": None, "7.2": None, "7.3": None},
    "swap-full.7.3.jsonl": {"6.18": None, "7.2": None, "7.3": None},
}


@pytest.mark.parametrize("trace", sorted(EXPECTED))
@pytest.mark.parametrize("semantics", sorted(RULES))
def test_a_recorded_trace_agrees_only_under_its_releases_rules(trace: str, semantics: str) -> None:
    header, _, _ = read_recorded(str(TRACES / trace))
    assert header["kernel"].startswith(trace.split(".", 1)[1].removesuffix(".jsonl") + ".")
    problem = check_recorded(str(TRACES / trace), semantics)
    assert (problem[0] if problem else None) == EXPECTED[trace][semantics], problem


def test_the_72_difference_is_the_exclusive_write_faults_slot() -> None:
    step, what = check_recorded(str(TRACES / "fault-free-by-release.7.2.jsonl"), "6.18")
    assert step == 1 and "used: kernel {'0': 8}, model {'0': 7}" in what


def test_check_exits_0_under_the_recording_releases_rules_and_1_under_others(tmp_path: Path) -> None:
    trace = str(TRACES / "fault-free-by-release.7.2.jsonl")
    ok = swapdiff("kernel", "--check", trace, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "under the 7.2 rules" in ok.stdout and "predicts every recorded observation" in ok.stdout
    bad = swapdiff("kernel", "--check", trace, "--semantics", "6.18", cwd=tmp_path)
    assert bad.returncode == 1 and "DIVERGENCE at step 1 {'op': 'store', 'page': 0}" in bad.stdout


def test_a_trace_without_observations_is_a_one_line_usage_error(tmp_path: Path) -> None:
    lines = (TRACES / "fault-free-by-release.7.2.jsonl").read_text().splitlines()
    rec = json.loads(lines[3])
    del rec["observed"]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([*lines[:3], json.dumps(rec), *lines[4:]]) + "\n")
    with pytest.raises(TraceError, match=r":4: no kernel observation recorded"):
        read_recorded(str(path))
    run = swapdiff("kernel", "--check", str(path), cwd=tmp_path)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "no kernel observation recorded" in run.stderr and "Traceback" not in run.stderr


def test_a_recorded_entry_the_model_does_not_predict_is_named_by_page(tmp_path: Path) -> None:
    lines = (TRACES / "fault-free-by-release.7.2.jsonl").read_text().splitlines()
    rec = json.loads(lines[1])  # step 0: the pageout of pages 0..7 to offsets 1..8
    assert rec["observed"]["entries"]["helper"][3] == [0, 4]
    rec["observed"]["entries"]["helper"][3] = [0, 9]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(rec), *lines[2:]]) + "\n")
    assert check_recorded(str(path), "7.2") == (0, "helper page 3 entry: kernel [0, 9], model [0, 4]")


def test_with_swap_more_than_half_used_every_fault_frees_its_count_0_slot(monkeypatch) -> None:
    """The recording's step 1 (a read fault with 262 of 511 slots in use) freed the slot on
    every release; a world that ignored vm_swap_full at fault time would keep it.  Step 2 is an
    exclusive write fault, which 7.2 frees only because swap is more than half used."""
    trace = str(TRACES / "swap-full.7.2.jsonl")
    monkeypatch.setattr(world_module, "vm_swap_full", lambda nr_free, total: False)
    step, what = check_recorded(trace, "7.2")
    assert step == 1 and "used: kernel {'0': 261}, model {'0': 262}" in what


def test_with_swap_more_than_half_used_a_zap_reclaims_a_cached_slot_another_process_maps(
    monkeypatch,
) -> None:
    """Step 6: the child's exit puts the last reference of page 3's slot, whose folio the helper
    maps; with swap more than half used the zap reclaims it (TTRS_FULL), else it stays cached."""
    trace = str(TRACES / "swap-full.7.2.jsonl")
    monkeypatch.setattr(reference_api, "vm_swap_full", lambda nr_free, total: False)
    step, what = check_recorded(trace, "7.2")
    assert step == 6 and "used: kernel {'0': 258}, model {'0': 259}" in what
