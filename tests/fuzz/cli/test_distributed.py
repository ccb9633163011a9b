"""`swapdiff fuzz --scheduler` on a `dask.distributed.LocalCluster` with two worker processes.

The campaigns run as subprocesses (the client) against one cluster per module; the workers
run with NUMBA_DISABLE_JIT=1 (JIT speed is irrelevant here) and every budget is in steps, so
what a campaign finds is deterministic and comparable byte for byte with the local pool.
`tests.fuzz.distributed_impls:HangingLeak` hangs one round on a Dask worker on request, so
the tests can kill a worker or interrupt the client mid-round without timing guesses.
Candidates written to a test's directory (the client's working directory, so on the client's
`sys.path` only, not on PYTHONPATH) check that a campaign ships the candidate to the workers
(`fuzz.cli.ship`) or refuses with one line.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fuzz.cli import main
from tests import clikit
from tests.clikit import ROOT, cli_env

HANGING = "tests.fuzz.distributed_impls:HangingLeak"
CAMPAIGN = ("--impl", HANGING, "--steps", "3000", "--workers", "2", "--seed", "3")
CAMPAIGN += ("--profile", "hibernate", "--episode-steps", "400", "--guided", "--quiet")
WAIT = 240.0


def _env() -> dict[str, str]:
    return cli_env(NUMBA_DISABLE_JIT="1")


def swapdiff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return clikit.swapdiff(*args, cwd=cwd, env=_env())


def start(*args: str, cwd: Path) -> subprocess.Popen:
    return clikit.start(*args, cwd=cwd, env=_env())


@pytest.fixture(scope="module")
def hang_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hang")


@pytest.fixture(scope="module")
def cluster(hang_dir):
    """A LocalCluster of two single-threaded worker processes; yields its scheduler address."""
    from distributed import LocalCluster

    saved = {k: os.environ.get(k) for k in ("NUMBA_DISABLE_JIT", "SWAPDIFF_TEST_HANG_DIR", "PYTHONPATH")}
    os.environ.update(_env(), SWAPDIFF_TEST_HANG_DIR=str(hang_dir))
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The same campaign on the local process pool: the bytes every distributed run must match."""
    cwd = tmp_path_factory.mktemp("local")
    proc = swapdiff("fuzz", *CAMPAIGN, "--out", "out", cwd=cwd)
    assert proc.returncode == 1, proc.stderr
    return cwd / "out"


def _traces(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.jsonl"))}


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def assert_same_campaign(out: Path, local: Path) -> None:
    traces = _traces(out)
    assert traces and traces == _traces(local)
    mine, theirs = _report(out), _report(local)
    for key in ("steps", "ops", "rounds", "labelled_ops", "divergences", "divergence_hits"):
        assert mine["totals"][key] == theirs["totals"][key], key
    assert mine["rules"] == theirs["rules"] and mine["labels"] == theirs["labels"]
    assert mine["totals"]["steps"] == 3000
    # Guided (CAMPAIGN asks for it): the same corpus schedule, so the same features, pairs and rounds.
    for key in ("guided", "features", "pairs", "rounds", "kept"):
        assert mine["features"][key] == theirs["features"][key], key
    assert mine["features"]["guided"] and mine["features"]["kept"] > 0


def _wait_for_claim(hang_dir: Path) -> int:
    claimed = hang_dir / "claimed"
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if claimed.exists() and claimed.read_text().strip():
            return int(claimed.read_text())
        time.sleep(0.1)
    raise AssertionError("no round hung on a Dask worker")


@pytest.fixture
def hang_once(hang_dir):
    """Ask the next HangingLeak built on a Dask worker to hang; clean up afterwards."""
    (hang_dir / "hang").write_text("")
    yield hang_dir
    for name in ("hang", "claimed"):
        (hang_dir / name).unlink(missing_ok=True)


def test_same_bytes_as_the_local_pool_and_findings_come_from_workers(cluster, local_run, tmp_path):
    proc = swapdiff("fuzz", *CAMPAIGN, "--scheduler", cluster, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = tmp_path / "out"
    assert_same_campaign(out, local_run)
    report = _report(out)
    per_worker = report["distributed"]["per_worker"]
    assert report["distributed"]["dask_workers"] == 2
    assert set(per_worker) and all(addr.startswith("tcp://127.0.0.1:") for addr in per_worker)
    assert sum(row["steps"] for row in per_worker.values()) == 3000
    # The trace found on a worker and written by the client replays to the same divergence.
    (trace,) = out.glob("*.jsonl")
    again = swapdiff("replay", str(trace), cwd=tmp_path)
    assert again.returncode == 1 and "swap_alloc_hibernation_slot" in again.stdout


def test_the_environment_variable_names_the_scheduler(cluster, local_run, tmp_path):
    env_proc = clikit.swapdiff(
        "fuzz", *CAMPAIGN, "--out", "out", cwd=tmp_path, env=dict(_env(), SWAPDIFF_SCHEDULER=cluster)
    )
    assert env_proc.returncode == 1, env_proc.stderr
    assert _report(tmp_path / "out")["distributed"]["scheduler"] == cluster
    assert_same_campaign(tmp_path / "out", local_run)


def test_a_worker_killed_mid_round_costs_one_round_counted_once(cluster, local_run, hang_once, tmp_path):
    client = start("fuzz", *CAMPAIGN, "--scheduler", cluster, "--out", "out", cwd=tmp_path)
    try:
        pid = _wait_for_claim(hang_once)
        os.kill(pid, signal.SIGKILL)
        _stdout, stderr = client.communicate(timeout=WAIT)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 1, stderr
    assert_same_campaign(tmp_path / "out", local_run)
    assert _report(tmp_path / "out")["totals"]["errors"] == 0


def test_resume_after_sigint_skips_finished_rounds(cluster, local_run, hang_once, tmp_path):
    client = start("fuzz", *CAMPAIGN, "--scheduler", cluster, "--out", "out", cwd=tmp_path)
    try:
        pid = _wait_for_claim(hang_once)
        client.send_signal(signal.SIGINT)
        _stdout, stderr = client.communicate(timeout=WAIT)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    os.kill(pid, signal.SIGKILL)  # the hung round's worker (its task was cancelled)
    out = tmp_path / "out"
    assert "Traceback" not in stderr
    report = _report(out)
    assert report["totals"]["interrupted"] and report["totals"]["steps"] < 3000
    state = json.loads((out / "campaign-state.json").read_text())
    done_before = [s["next_round"] for s in state["streams"]]
    assert not all(s["finished"] for s in state["streams"])
    # The state carries the corpus of every stream that finished a round.
    assert all(bool(s["corpus"]) == (s["next_round"] > 0) for s in state["streams"])

    proc = swapdiff("fuzz", "--resume", "out", "--scheduler", cluster, "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert_same_campaign(out, local_run)
    assert not _report(out)["totals"]["interrupted"]
    after = json.loads((out / "campaign-state.json").read_text())
    assert all(s["finished"] for s in after["streams"])
    for before, later in zip(state["streams"], after["streams"], strict=True):
        if before["corpus"]:  # resumed from the saved corpus: what it had is still there
            assert set(before["corpus"]["features"]) <= set(later["corpus"]["features"])
    assert all(a["next_round"] >= b for a, b in zip(after["streams"], done_before, strict=True))


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("tcp://127.0.0.1:1", "cannot connect to --scheduler 'tcp://127.0.0.1:1' within 3s"),
        ("tcp://127.0.0.1", "missing port"),
        ("bogus://127.0.0.1:1", "unknown address scheme"),
    ],
)
def test_bad_scheduler_addresses_are_one_line_errors(tmp_path, address, needle):
    proc = swapdiff(
        "fuzz", "--steps", "10", "--scheduler", address, "--connect-timeout", "3s", "--out", "o", cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert needle in lines[0]


def test_resume_without_a_state_file_is_a_one_line_error(tmp_path):
    proc = swapdiff("fuzz", "--resume", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "campaign-state.json" in proc.stderr


def test_missing_dask_says_which_extra_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    code = main(["fuzz", "--steps", "10", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "install swapdiff[distributed]" in err


def test_ctrl_c_inside_the_client_loop_sets_the_stop_flag_and_the_handler_is_restored():
    from fuzz.cli.distributed import _sigint_sets

    before = signal.getsignal(signal.SIGINT)
    with _sigint_sets() as stop:
        assert not stop.is_set()
        if threading.current_thread() is threading.main_thread():
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 5
            while not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            raise KeyboardInterrupt
    assert stop.is_set()
    assert signal.getsignal(signal.SIGINT) is before


# --------------------------------------------------------------------------------------------
# The candidate ships to the workers
# --------------------------------------------------------------------------------------------

LEAK_SOURCE = (
    '"""A candidate only the client can import: the hibernation-slot leak under its own name."""\n\n'
    "from tests.fuzz.buggy_impls import HibernationLeak\n\n\n"
    "class {name}(HibernationLeak):\n"
    '    """Inherits the planted bug."""\n'
)
CAMPAIGN_ARGS = CAMPAIGN[2:]  # the campaign without its --impl


@pytest.fixture
def dask_client(cluster):
    from distributed import Client

    with Client(cluster, timeout=30) as client:
        client.wait_for_workers(2, timeout=WAIT)  # a test before may have killed one
        yield client


def _workers_find(client, module: str) -> list[bool]:
    import importlib.util

    return list(client.run(lambda: importlib.util.find_spec(module) is not None).values())


def _op_lines(out: Path) -> list[bytes]:
    """Every trace's op lines (its header names the candidate's spec, which differs here)."""
    return [line for trace in _traces(out).values() for line in trace.splitlines()[1:]]


def test_a_candidate_only_the_client_imports_is_shipped_and_runs_on_the_workers(
    cluster, dask_client, local_run, tmp_path
):
    (tmp_path / "clientonly_leak.py").write_text(LEAK_SOURCE.format(name="ClientOnlyLeak"))
    assert _workers_find(dask_client, "clientonly_leak") == [False, False]
    proc = swapdiff(
        "fuzz", "--impl", "clientonly_leak:ClientOnlyLeak", *CAMPAIGN_ARGS,
        "--scheduler", cluster, "--out", "out", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    out = tmp_path / "out"
    report = _report(out)
    assert report["totals"]["errors"] == 0
    assert sum(row["steps"] for row in report["distributed"]["per_worker"].values()) == 3000
    # The rounds ran on the workers and found what the local pool finds with the same seeds.
    assert _op_lines(out) and _op_lines(out) == _op_lines(local_run)
    assert _workers_find(dask_client, "clientonly_leak") == [True, True]


def test_a_package_is_shipped_zipped(cluster, dask_client, local_run, tmp_path):
    package = tmp_path / "leakpkg"
    (package / "impls").mkdir(parents=True)
    (package / "__init__.py").write_text('"""A client-only package holding a candidate."""\n')
    (package / "impls" / "__init__.py").write_text("")
    (package / "impls" / "alloc.py").write_text(LEAK_SOURCE.format(name="PackagedLeak"))
    assert _workers_find(dask_client, "leakpkg") == [False, False]
    proc = swapdiff(
        "fuzz", "--impl", "leakpkg.impls.alloc:PackagedLeak", *CAMPAIGN_ARGS,
        "--scheduler", cluster, "--out", "out", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert _op_lines(tmp_path / "out") == _op_lines(local_run)


def test_a_candidate_the_workers_still_cannot_import_is_refused_at_connect(cluster, dask_client, tmp_path):
    # The module ships, but what it imports lives beside it on the client only.
    (tmp_path / "clientonly_helper.py").write_text("from tests.fuzz.buggy_impls import HibernationLeak\n")
    (tmp_path / "needs_helper.py").write_text(
        "from clientonly_helper import HibernationLeak\n\n\nclass NeedsHelper(HibernationLeak):\n    pass\n"
    )
    proc = swapdiff(
        "fuzz", "--impl", "needs_helper:NeedsHelper", *CAMPAIGN_ARGS,
        "--scheduler", cluster, "--out", "out", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--impl 'needs_helper:NeedsHelper' cannot be imported on Dask worker tcp://127.0.0.1:" in lines[0]
    assert "No module named 'clientonly_helper'" in lines[0]
    assert not (tmp_path / "out").exists()  # refused before the campaign wrote anything
    # The refused module is not left registered for workers that join later.
    plugins = dask_client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all("swapdiff-candidate-needs_helper" not in names for names in plugins.values())


def test_campaigns_do_not_import_the_dask_path():
    """Imports flow one way: fuzz.cli.distributed builds on fuzz.cli.campaign, never back."""
    tree = ast.parse((ROOT / "fuzz" / "cli" / "campaign.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not {"fuzz.cli.distributed", "fuzz.cli.ship"} & imported
