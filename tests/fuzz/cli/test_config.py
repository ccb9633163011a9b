"""Campaign option parsing and bookkeeping, in process (the subprocess tests cover the rest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.cli import main, messages
from fuzz.cli.args import parse_duration
from fuzz.cli.campaign import (
    CampaignConfig,
    CampaignError,
    CampaignState,
    failure_name,
    parse_geometry,
)
from fuzz.cli.report import build_report, throughput_rows
from fuzz.impls import ImplError, resolve, spec_of


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1.5m", 90)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10x", "-5m", "0", "m", "5m extra"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_step_budget_is_split_exactly_across_workers():
    config = CampaignConfig(steps=10, workers=3)
    assert [config.worker_steps(w) for w in range(3)] == [4, 3, 3]
    assert CampaignConfig(workers=2).worker_steps(0) is None


def test_geometry_option(tmp_path):
    assert parse_geometry("small") == (None, True)
    assert parse_geometry("large") == (None, False)
    fixed, _ = parse_geometry('{"cluster_size": 8, "devices": [{"size": 20}]}')
    assert fixed["cluster_size"] == 8 and fixed["devices"][0]["size"] == 20
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"cluster_size": 16, "max_swapfiles": 2, "devices": []}))
    assert parse_geometry(str(path))[0]["max_swapfiles"] == 2
    for bad in ('{"cluster_size": 6}', "[1]", "{oops", str(tmp_path / "missing.json")):
        with pytest.raises(CampaignError):
            parse_geometry(bad)


def test_failure_names_are_safe_and_distinct():
    assert failure_name(("folio_put_swap", "state")) == "folio_put_swap-state.jsonl"
    contract = failure_name(("folio_put_swap", "contract:put-count-zero!=ok"))
    assert contract == "folio_put_swap-contract_put-count-zero-vs-ok.jsonl"
    assert "/" not in failure_name(("x", "exception:candidate:a/b"))


def test_impl_specs_round_trip():
    assert spec_of(resolve("reference")) == "reference"
    assert spec_of(resolve("optimized")) == "optimized"
    assert resolve("reference.model:ReferenceSwap") is resolve("reference")
    with pytest.raises(ImplError, match="unknown implementation"):
        resolve("fast")


def test_report_zero_fills_labels_and_computes_throughput():
    state = CampaignState(CampaignConfig(steps=5))
    state.handle(messages.Steps(0, 5))
    state.handle(messages.Round(0, "fast", 12, {"zap": 3}, {"device full": 2}, True))
    state.throughput = [(1.0, 2), (2.0, 5)]
    report = build_report(state)
    assert report["totals"]["steps"] == 5 and report["totals"]["ops"] == 12
    assert report["labels"]["device full"] == 2 and report["labels"]["sync discard"] == 0
    assert report["rules"] == {"zap": 3}
    assert throughput_rows(state.throughput) == [[1.0, 2, 2.0], [2.0, 5, 3.0]]


def test_throughput_folds_a_repeated_final_sample_into_the_last_interval():
    """The closing sample often repeats the last time stamp; it must not plot a rate of 0."""
    assert throughput_rows([(1.0, 2), (2.0, 5), (2.0, 6)]) == [[1.0, 2, 2.0], [2.0, 6, 3.0]]


def test_main_returns_exit_codes_without_raising(capsys, tmp_path):
    assert main(["replay", str(tmp_path / "none.jsonl")]) == 2
    assert main(["fuzz", "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(": error: " in line for line in err)


def test_a_signature_keeps_the_smallest_seeds_trace_whatever_the_arrival_order(tmp_path):
    """Workers race to report the same divergence; the kept trace must not depend on it."""
    outcomes = []
    for order in ((7, 3), (3, 7)):
        out = tmp_path / f"out{order[0]}"
        out.mkdir()
        state = CampaignState(CampaignConfig(steps=5, out=str(out)))
        for seed in order:
            state.handle(
                messages.Failure(seed % 2, ("folio_put_swap", "state"), f"trace {seed}\n", "d", seed)
            )
        record = state.failures[("folio_put_swap", "state")]
        outcomes.append((Path(record["file"]).read_text(), record["seed"], record["hits"]))
    assert outcomes == [("trace 3\n", 3, 2), ("trace 3\n", 3, 2)]
