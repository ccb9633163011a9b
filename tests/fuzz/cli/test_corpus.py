"""`swapdiff fuzz --corpus DIR`: known divergences replayed first, new ones added atomically."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fuzz.cli.corpus import git_commit
from fuzz.trace import read_trace
from tests.clikit import ROOT, cli_argv, cli_env, swapdiff

BUGGY = "tests.fuzz.buggy_impls:HibernationLeak"


FUZZ = ("fuzz", "--steps", "1500", "--quiet")


def _env() -> dict[str, str]:
    return cli_env(NUMBA_DISABLE_JIT="1")


def fuzz(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return swapdiff(*FUZZ, *args, cwd=cwd, env=_env())


def test_corpus_records_findings_and_rechecks_them_first(tmp_path):
    first = fuzz(
        "--impl", BUGGY, "--profile", "hibernate", "--seed", "3", "--out", "a", "--corpus", "c", cwd=tmp_path
    )
    assert first.returncode == 1, first.stderr
    corpus = tmp_path / "c"
    (trace,) = corpus.glob("*.jsonl")
    meta = json.loads(trace.with_suffix(".json").read_text())
    assert meta["candidate"] == BUGGY and meta["signature"][0] == "swap_alloc_hibernation_slot"
    assert meta["commit"] == git_commit(ROOT)
    assert read_trace(trace).calls  # a whole, readable trace
    # A fixed candidate: the known divergence no longer reproduces.
    fixed = fuzz("--impl", "reference", "--seed", "4", "--out", "b", "--corpus", "c", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    report = json.loads((tmp_path / "b" / "report.json").read_text())["corpus"]
    assert report["replayed"] == 1 and report["no_longer_diverging"] == [trace.name]
    assert report["still_diverging"] == [] and report["added"] == []
    # The buggy candidate again: the corpus trace still diverges, reported with where it was found.
    again = fuzz(
        "--impl", BUGGY, "--profile", "hibernate", "--seed", "3", "--out", "d", "--corpus", "c", cwd=tmp_path
    )
    assert again.returncode == 1
    report = json.loads((tmp_path / "d" / "report.json").read_text())["corpus"]
    (still,) = report["still_diverging"]
    assert (
        still["file"] == trace.name and still["candidate"] == BUGGY and still["kind"] == meta["signature"][1]
    )
    assert report["added"] == []  # the same seed finds the same trace: already in the corpus
    assert "1 still diverge" in again.stderr


def test_concurrent_campaigns_share_one_corpus(tmp_path):
    procs = [
        subprocess.Popen(
            cli_argv(
                *FUZZ,
                "--impl",
                BUGGY,
                "--profile",
                "hibernate",
                "--seed",
                str(seed),
                "--out",
                f"o{seed}",
                "--corpus",
                "c",
            ),
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (5, 6, 7)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err
    traces = sorted((tmp_path / "c").glob("*.jsonl"))
    assert traces
    assert not [p for p in (tmp_path / "c").iterdir() if p.suffix not in (".json", ".jsonl")]  # no temp files
    for trace in traces:
        assert read_trace(trace).calls
        assert json.loads(trace.with_suffix(".json").read_text())["candidate"] == BUGGY
    found = {p.read_bytes() for seed in (5, 6, 7) for p in (tmp_path / f"o{seed}").glob("*.jsonl")}
    assert {p.read_bytes() for p in traces} == found
