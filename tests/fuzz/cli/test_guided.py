"""`swapdiff fuzz --guided` grows a corpus (fuzz.corpus); fresh seeded episodes stay the default; in process,
one inline worker and step budgets, so every run is deterministic."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from fuzz.cli import main
from fuzz.cli.campaign import CampaignConfig, CampaignState
from fuzz.cli.command import build_parser
from fuzz.corpus import MUTATIONS, UNGUIDED
from fuzz.modes.fast import episode_calls
from reference import ReferenceSwap

BUGGY = "tests.fuzz.buggy_impls:HibernationLeak"
SMALL = ("--steps", "480", "--episode-steps", "40", "--workers", "1", "--hang-timeout", "off", "--quiet")


def campaign(out: Path, *extra: str, seed: int = 5) -> dict:
    code = main(["fuzz", *SMALL, "--seed", str(seed), "--out", str(out), *extra])
    assert code in (0, 1)
    return json.loads((out / "report.json").read_text())


def test_guided_is_one_flag_away_and_not_yet_the_default():
    parser = build_parser()
    assert not CampaignConfig.from_args(parser.parse_args(["fuzz", "--steps", "5"])).guided
    assert CampaignConfig.from_args(parser.parse_args(["fuzz", "--steps", "5", "--guided"])).guided
    assert not CampaignConfig.from_args(parser.parse_args(["fuzz", "--steps", "5", "--no-guided"])).guided


@pytest.fixture(scope="module")
def guided_report(tmp_path_factory) -> dict:
    return campaign(tmp_path_factory.mktemp("guided") / "out", "--guided")


def test_a_guided_campaign_mutates_kept_prefixes_and_reports_features_over_time(guided_report):
    section = guided_report["features"]
    assert section["guided"] and guided_report["config"]["guided"]
    rounds = section["rounds"]
    # Fresh guided rounds run half an episode (20 steps), continuations the rest: 24 rounds.
    assert sum(rounds.values()) == guided_report["totals"]["rounds"]["fast"] == 24
    assert rounds.get("fresh", 0) >= 1 and set(rounds) - {"fresh"} <= set(MUTATIONS)
    assert set(rounds) & set(MUTATIONS)  # most rounds grow kept prefixes
    assert 0 < section["kept"] <= 24
    assert section["features"] > 0 and section["pairs"] > section["features"]
    over_time = section["over_time"]
    assert over_time[-1][2:] == [section["features"], section["pairs"]]
    assert all(a[2] <= b[2] and a[3] <= b[3] for a, b in itertools.pairwise(over_time))


def test_an_unguided_campaign_runs_fresh_episodes_and_still_counts_features(tmp_path, guided_report):
    report = campaign(tmp_path / "out")
    section = report["features"]
    assert not section["guided"]
    assert section["rounds"] == {UNGUIDED: 12} and section["kept"] == 0
    assert section["features"] > 0 and section["pairs"] > 0
    # Same budget and seed, different rounds: the guided campaign ran other episodes.
    assert report["rules"] != guided_report["rules"]


def test_same_seed_same_guided_campaign(tmp_path):
    first = campaign(tmp_path / "a", "--guided", "--impl", BUGGY, "--profile", "hibernate", seed=3)
    second = campaign(tmp_path / "b", "--guided", "--impl", BUGGY, "--profile", "hibernate", seed=3)
    traces = sorted(p.name for p in (tmp_path / "a").glob("*.jsonl"))
    assert traces and traces == sorted(p.name for p in (tmp_path / "b").glob("*.jsonl"))
    for name in traces:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for key in ("features", "pairs", "rounds", "kept"):
        assert first["features"][key] == second["features"][key], key
    assert first["rules"] == second["rules"] and first["totals"]["ops"] == second["totals"]["ops"]


def test_a_hung_guided_round_is_rebuilt_from_the_tape_it_played(tmp_path):
    from fuzz.corpus import Corpus, Guide
    from fuzz.modes.fast import run_episode
    from optimized import OptimizedSwap

    corpus = Corpus()
    for k in range(4):  # until the schedule plays a kept prefix
        plan = corpus.plan(k)
        guide = Guide(corpus, plan, k)
        run_episode(ReferenceSwap, OptimizedSwap, seed=k, steps=60, guide=guide)
        guide.finish()
        if plan.tape:
            break
    assert plan.tape
    config = CampaignConfig(out=str(tmp_path), steps=10)
    state = CampaignState(config)
    played = tuple(guide.chooser.recorded)
    from fuzz.cli import messages

    state.handle(messages.Tape(0, 7, played))
    calls, _ = episode_calls(ReferenceSwap, seed=k, count=20, tape=played)
    state.hang(0, 7, 19, 20)  # worker 0, round 7, hung in call 19
    (info,) = state.failures.values()
    trace = Path(info["file"]).read_text().splitlines()
    assert len(trace) == 1 + 20 and info["kind"] == "hang"
    assert json.loads(trace[-1])["op"] == calls[-1].name
