"""The `swapdiff` command through a subprocess: campaigns, replay, minimize, and bad input.

Every run uses a step budget (not a time budget) so what it finds is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clikit import assert_one_line_error, swapdiff

BUGGY = "tests.fuzz.buggy_impls:HibernationLeak"


@pytest.fixture(scope="module")
def buggy_campaign(tmp_path_factory):
    """One campaign against a buggy candidate with two workers, and its output folder."""
    out = tmp_path_factory.mktemp("buggy")
    proc = swapdiff(
        "fuzz",
        "--impl",
        BUGGY,
        "--steps",
        "3000",
        "--workers",
        "2",
        "--seed",
        "3",
        "--out",
        "out",
        "--profile",
        "hibernate",
        cwd=out,
    )
    return proc, out / "out"


def test_real_pair_campaign_finds_nothing_and_reports(tmp_path):
    proc = swapdiff("fuzz", "--steps", "600", "--seed", "1", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["totals"]["steps"] == 600
    assert report["totals"]["divergences"] == 0
    assert report["config"]["impl"] == "optimized" and report["config"]["seed"] == 1
    assert sum(report["rules"].values()) > 0
    assert (tmp_path / "out" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "out").glob("*.jsonl"))
    # The closing summary says what was compared and where the report is.
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "swapdiff fuzz: optimized checked against reference after every call, allocator level "
        "(mode fast, profile default, geometry drawn per episode, seed 1, 1 worker(s))"
    )
    assert lines[1].startswith("  600 steps (") and "0 divergence(s)" in lines[1]
    assert lines[-1] == f"  report: {Path('out', 'report.json')} (plot: {Path('out', 'report.png')})"


def test_buggy_candidate_yields_a_replayable_trace(buggy_campaign):
    proc, out = buggy_campaign
    assert proc.returncode == 1, proc.stdout + proc.stderr
    traces = sorted(out.glob("swap_alloc_hibernation_slot-*.jsonl"))
    assert traces and sorted(out.glob("*.jsonl")) == traces  # every divergence is the leak
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["divergences"] == len(traces)
    assert sorted(Path(d["file"]).name for d in report["divergences"]) == [t.name for t in traces]
    header = json.loads(traces[0].read_text().splitlines()[0])
    assert header["impls"] == {"reference": "reference", "candidate": BUGGY}

    bad = swapdiff("replay", str(traces[0]), cwd=out)
    assert bad.returncode == 1, bad.stderr
    assert "divergence at step" in bad.stdout and "swap_alloc_hibernation_slot" in bad.stdout
    assert "nr_swap_pages" in bad.stdout  # the snapshot diff
    good = swapdiff("replay", str(traces[0]), "--impl", "optimized", cwd=out)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ops agree" in good.stdout


def test_minimize_shrinks_the_trace_and_keeps_the_divergence(buggy_campaign):
    _, out = buggy_campaign
    trace = sorted(out.glob("swap_alloc_hibernation_slot-*.jsonl"))[0]
    proc = swapdiff("minimize", str(trace), cwd=out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    small = trace.with_name(trace.name.replace(".jsonl", ".min.jsonl"))
    before = len(trace.read_text().splitlines()) - 1
    after = len(small.read_text().splitlines()) - 1
    assert after < before and after <= 4  # swapon + the allocation (+ setup it may need)
    assert f"{before} -> {after} ops" in proc.stdout
    again = swapdiff("replay", str(small), cwd=out)
    assert again.returncode == 1 and "swap_alloc_hibernation_slot" in again.stdout


def test_same_seed_same_trace_bytes(buggy_campaign, tmp_path):
    _, out = buggy_campaign
    proc = swapdiff(
        "fuzz",
        "--impl",
        BUGGY,
        "--steps",
        "3000",
        "--workers",
        "2",
        "--seed",
        "3",
        "--out",
        "again",
        "--profile",
        "hibernate",
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    names = sorted(p.name for p in out.glob("*.jsonl") if ".min." not in p.name)
    assert names and sorted(p.name for p in (tmp_path / "again").glob("*.jsonl")) == names
    for name in names:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "empty file"),
        ("{not json\n", ":1: not valid JSON"),
        ('{"swapdiff_trace": 2, "geometry": {}}\n', "unsupported trace format version 2"),
        (
            '{"swapdiff_trace": 1, "geometry": {"cluster_size": 8, "max_swapfiles": 2}, "impls": {}, '
            '"seed": null, "profile": null, "mode": null}\n{"i": 0, "op": "frobnicate", "args": {}}\n',
            ":2: unknown op 'frobnicate'",
        ),
    ],
)
def test_malformed_traces_are_one_line_errors(tmp_path, content, needle):
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    for command in ("replay", "minimize"):
        assert_one_line_error(swapdiff(command, str(path), cwd=tmp_path), needle)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nonsense", "unknown implementation 'nonsense'"),
        ("no_such_module:Swap", "cannot import 'no_such_module'"),
        ("fuzz.trace:NoSuchClass", "has no attribute 'NoSuchClass'"),
        ("fuzz.trace:FORMAT_VERSION", "not a class"),
        ("fuzz.trace:Trace", "is not a swap implementation"),
    ],
)
def test_unknown_impl_specs_are_one_line_errors(tmp_path, spec, needle):
    assert_one_line_error(
        swapdiff("fuzz", "--impl", spec, "--steps", "5", "--out", "o", cwd=tmp_path), needle
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fuzz", "--steps", "0"], "--steps"),
        (["fuzz", "--steps", "10", "--time", "1m"], "not allowed with"),
        (["fuzz", "--time", "soon"], "expected a duration"),
        (["fuzz", "--workers", "many"], "--workers"),
        (["fuzz", "--seed", "-4"], "--seed"),
        (["fuzz", "--mode", "turbo"], "invalid choice"),
        (["fuzz", "--profile", "nope", "--steps", "5"], "unknown profile 'nope'"),
        (["fuzz", "--geometry", '{"cluster_size": 6}', "--steps", "5"], "cluster_size"),
        (["fuzz", "--geometry", "nowhere.json", "--steps", "5"], "--geometry"),
        (["replay"], "TRACE"),
        (["replay", "missing.jsonl"], "cannot read trace"),
        (["explode"], "invalid choice"),
        (["replay", "t.jsonl", "--level", "everything"], "invalid choice"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, args, needle):
    assert_one_line_error(swapdiff(*args, cwd=tmp_path), needle)


def test_hypothesis_mode_failure_becomes_a_replayable_trace(tmp_path):
    spec = "tests.fuzz.buggy_impls:MappedNewFolios"
    args = ["fuzz", "--mode", "hypothesis", "--impl", spec, "--steps", "20", "--seed", "2", "--out", "out"]
    proc = swapdiff(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    traces = sorted((tmp_path / "out").glob("folio_new-*.jsonl"))
    assert traces
    header = json.loads(traces[0].read_text().splitlines()[0])
    assert header["mode"] == "hypothesis" and header["seed"] is not None
    replayed = swapdiff("replay", str(traces[0]), cwd=tmp_path)
    assert replayed.returncode == 1 and "folio_new" in replayed.stdout


@pytest.mark.parametrize(
    ("geometry", "needle"),
    [
        ('{"cluster_size": 8, "max_swapfiles": 100}', "max_swapfiles must be in 1..64"),
        ('{"cluster_size": 8, "max_swapfiles": 0}', "max_swapfiles must be in 1..64"),
        ('{"cluster_size": 8, "max_swapfiles": true}', "max_swapfiles must be an integer"),
        ('{"cluster_size": 6}', "cluster_size must be a power of two"),
        ('{"cluster_size": 1024}', "cluster_size must be a power of two"),
        ('{"cluster_size": 8, "devices": [{"size": "x"}]}', "size must be an integer"),
        ('{"cluster_size": 8, "extra": 1}', "unknown geometry field"),
    ],
)
def test_fuzz_rejects_malformed_geometry_with_one_line(tmp_path, geometry, needle):
    """A geometry the constructors would refuse is a usage error (exit 2), not an internal one."""
    proc = swapdiff(
        "fuzz", "--geometry", geometry, "--steps", "10", "--out", str(tmp_path / "o"), cwd=tmp_path
    )
    assert_one_line_error(proc, "--geometry", needle)
    assert not (tmp_path / "o" / "report.json").exists()


def test_a_hanging_candidate_is_killed_recorded_and_the_campaign_goes_on(tmp_path):
    # Its 30th folio_new sleeps forever; with seed 15, episode 0 of worker 0 gets there (35
    # folio_new calls in its 30 steps), the later ones of either worker do not (at most 12).
    spec = "tests.fuzz.buggy_impls:SleepyFolioNew"
    args = [
        "fuzz",
        "--impl",
        spec,
        "--steps",
        "300",
        "--episode-steps",
        "30",
        "--hang-timeout",
        "3s",
        "--seed",
        "15",
    ]
    proc = swapdiff(*args, "--out", "out", "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["hangs"] >= 1 and report["totals"]["errors"] == 0
    assert report["totals"]["steps"] == 300  # replacement workers used the rest of the budget
    (hang,) = [d for d in report["divergences"] if d["kind"] == "hang"]
    assert hang["op"] == "folio_new" and Path(hang["file"]).name == "folio_new-hang.jsonl"
    lines = (out / "folio_new-hang.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["divergence"] == {"step": len(lines) - 2, "op": "folio_new", "kind": "hang"}
    ops = [json.loads(line)["op"] for line in lines[1:]]
    assert ops[-1] == "folio_new" and ops.count("folio_new") == 30  # up to the call that hung

    replayed = swapdiff("replay", str(out / "folio_new-hang.jsonl"), "--hang-timeout", "1s", cwd=tmp_path)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "kind:      hang" in replayed.stdout and f"diverges at step {len(ops) - 1}" in replayed.stdout
    fine = swapdiff("replay", str(out / "folio_new-hang.jsonl"), "--impl", "reference", cwd=tmp_path)
    assert fine.returncode == 0, fine.stdout + fine.stderr


def test_a_hanging_batch_is_recorded_with_the_calls_of_that_batch(tmp_path):
    spec = "tests.fuzz.buggy_impls:SleepyBatch"  # its second apply() never returns
    args = ["fuzz", "--impl", spec, "--steps", "60", "--episode-steps", "60", "--hang-timeout", "3s"]
    proc = swapdiff(*args, "--out", "out", "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    hangs = report["divergences"]
    assert hangs and {d["kind"] for d in hangs} == {"hang"}
    assert report["totals"]["hangs"] == sum(d["hits"] for d in hangs)
    assert "apply() of calls" in proc.stderr  # the live divergence lines
    for info in hangs:  # the trace ends with the last call of the batch part that hung
        lines = Path(tmp_path / info["file"]).read_text().splitlines()
        header = json.loads(lines[0])
        assert header["divergence"]["kind"] == "hang" and header["divergence"]["step"] == len(lines) - 2


@pytest.mark.parametrize("value", ["soon", "-3s"])
def test_bad_hang_timeouts_are_one_line_errors(tmp_path, value):
    assert_one_line_error(swapdiff("fuzz", "--hang-timeout", value, cwd=tmp_path), "--hang-timeout")


def test_hang_timeout_off_runs_without_the_watchdog(tmp_path):
    proc = swapdiff("fuzz", "--steps", "100", "--hang-timeout", "off", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["config"]["hang_timeout"] == 0.0 and report["totals"]["hangs"] == 0
