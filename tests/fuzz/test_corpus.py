"""fuzz.corpus: tapes replay episodes, the schedule is deterministic, the corpus is plain data."""

from __future__ import annotations

import json
import random

import pytest

from fuzz.choosers import RandomChooser
from fuzz.corpus import MUTATIONS, UNGUIDED, Corpus, Guide, Plan, Seed, TapeChooser
from fuzz.modes.fast import episode_calls, run_episode
from optimized import OptimizedSwap
from reference import ReferenceSwap

STEPS = 120


def guided_rounds(rounds: int, *, seed: int = 7, corpus: Corpus | None = None) -> tuple[Corpus, list]:
    """`rounds` guided fast rounds on one corpus; the corpus and each round's (kind, ops)."""
    corpus = Corpus() if corpus is None else corpus
    done = []
    for k in range(rounds):
        episode_seed = seed * 100000 + k
        plan = corpus.plan(episode_seed)
        guide = Guide(corpus, plan, episode_seed)
        result = run_episode(ReferenceSwap, OptimizedSwap, seed=episode_seed, steps=STEPS, guide=guide)
        assert result.divergence is None
        guide.finish()
        done.append((plan.kind, result.ops, dict(result.rules)))
    return corpus, done


def test_an_empty_tape_draws_what_the_random_chooser_draws():
    tape, plain = TapeChooser(5), RandomChooser(5)
    draws = [(tape.integer(0, 9), plain.integer(0, 9)) for _ in range(50)]
    draws += [(tape.weighted({"a": 1, "b": 3}), plain.weighted({"a": 1, "b": 3})) for _ in range(50)]
    draws += [(tape.boolean(0.3), plain.boolean(0.3)) for _ in range(50)]
    assert all(a == b for a, b in draws)
    # So an unguided round is the seeded episode of before, call for call.
    calls, _ = episode_calls(ReferenceSwap, seed=11, count=300)
    again, _ = episode_calls(ReferenceSwap, seed=11, count=300, tape=())
    assert calls == again


def test_a_recorded_tape_replays_the_episode_whatever_the_rng_seed():
    first = TapeChooser(3)
    calls, geometry = episode_calls(ReferenceSwap, seed=3, count=400)
    chooser_calls, _ = _calls_with(first, 400)
    assert chooser_calls == calls
    replayed, again_geometry = _calls_with(TapeChooser(999, first.recorded), 400)
    assert replayed == calls and again_geometry == geometry


def _calls_with(chooser: TapeChooser, count: int):
    from fuzz.impls import build
    from fuzz.modes.fast import RecordingExecutor
    from fuzz.swarm import episode_setup
    from fuzz.world import World

    geo, swarm = episode_setup(chooser, None)
    executor = RecordingExecutor(
        build(ReferenceSwap, cluster_size=geo.cluster_size, max_swapfiles=geo.max_swapfiles)
    )
    world = World(geo, executor, **swarm.world_kwargs())
    world.setup()
    while len(executor.calls) < count:
        world.step(chooser)
    return executor.calls[:count], geo


def test_replayed_values_wrap_into_the_asked_range_and_minus_one_is_the_last():
    chooser = TapeChooser(0, [7, -1, 12, -1])
    assert chooser.integer(0, 4) == 2
    assert chooser.integer(10, 13) == 13
    assert chooser.choice("abc") == "a"
    assert chooser.weighted({"x": 1, "y": 1}) == "y"
    assert chooser.recorded == [2, 3, 0, 199]


def test_same_seed_same_corpus_bytes_and_the_rounds_mutate_kept_prefixes():
    corpus, done = guided_rounds(10)
    again, done_again = guided_rounds(10)
    assert done == done_again
    assert json.dumps(corpus.to_json()) == json.dumps(again.to_json())
    kinds = {kind for kind, _, _ in done}
    assert done[0][0] == "fresh" and kinds & set(MUTATIONS)
    assert corpus.seeds and corpus.features and corpus.pairs
    for seed in corpus.seeds:
        assert seed.found > 0 and seed.marks[-1] == len(seed.tape)
        assert seed.marks == sorted(seed.marks)


def test_the_corpus_survives_json_and_plans_the_same_rounds():
    corpus, _ = guided_rounds(6)
    data = json.loads(json.dumps(corpus.to_json()))
    restored = Corpus.from_json(data)
    assert restored.to_json() == corpus.to_json()
    assert len(restored.features) == len(corpus.features) and len(restored.pairs) == len(corpus.pairs)
    for episode_seed in range(20):
        assert restored.plan(episode_seed) == corpus.plan(episode_seed)
    # Going on from the restored corpus is going on from the original: what resume relies on.
    left, done_left = guided_rounds(3, seed=8, corpus=corpus)
    right, done_right = guided_rounds(3, seed=8, corpus=restored)
    assert done_left == done_right and left.to_json() == right.to_json()


def test_a_corpus_of_another_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        Corpus.from_json({"swapdiff_corpus": 99})


def test_record_keeps_the_prefix_up_to_the_last_step_that_found_something():
    corpus = Corpus()
    chooser = TapeChooser(1)
    for _ in range(10):
        chooser.integer(0, 100)
        chooser.mark()
    plan = Plan("fresh", [])
    assert corpus.record(plan, chooser, [0, 3, 0, 0, 2, 0, 0, 0, 0, 0])
    (kept,) = corpus.seeds
    assert kept.marks == chooser.marks[:5] and kept.tape == chooser.recorded[:5] and kept.found == 5
    assert not corpus.record(plan, chooser, [0] * 10)
    # An unguided round is counted, never kept.
    assert not corpus.record(Plan(UNGUIDED, []), chooser, [1] * 10)
    assert len(corpus.seeds) == 1 and corpus.rounds == {"fresh": 2, UNGUIDED: 1}


def test_fruitless_children_drain_their_parents_energy():
    corpus = Corpus(seeds=[Seed([1, 2, 3], [1, 2, 3], found=4, origin="fresh")])
    full = corpus.seeds[0].energy()
    chooser = TapeChooser(0)
    chooser.mark()  # the end of an (empty) setup: the prefix a finding child would keep
    for _ in range(8):
        corpus.record(Plan("extend", [], parent=0), chooser, [0])
    assert corpus.seeds[0].energy() == pytest.approx(full / 2)
    corpus.record(Plan("extend", [], parent=0), chooser, [1])
    assert corpus.seeds[0].energy() == full


@pytest.mark.parametrize("kind", ["splice", "repeat", "boundary", "extend"])
def test_every_mutation_yields_consistent_marks(kind):
    rng = random.Random(4)
    seeds = []
    for n in range(3):
        marks = [2]
        for _ in range(5 + n):
            marks.append(marks[-1] + rng.randint(1, 4))
        seeds.append(Seed([rng.randrange(50) for _ in range(marks[-1])], marks, 1, "fresh"))
    corpus = Corpus(seeds=seeds)
    for _ in range(30):
        tape, marks = corpus._once(kind, seeds[0].tape, seeds[0].marks, rng)
        assert marks == sorted(marks) and marks[-1] <= len(tape)
        if kind == "repeat":
            assert len(tape) > len(seeds[0].tape)
        if kind == "boundary":
            diff = [i for i, (a, b) in enumerate(zip(tape, seeds[0].tape, strict=True)) if a != b]
            assert len(diff) <= 1 and all(tape[i] in (0, -1) for i in diff)
