"""fuzz.corpus: tapes replay episodes, the schedule is deterministic, the corpus is plain data."""

from __future__ import annotations

import json
import random

import pytest

from fuzz.choosers import RandomChooser
from fuzz.corpus import FRESH_STEPS, MUTATIONS, UNGUIDED, Corpus, Guide, Plan, Seed, TapeChooser
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
        plan = corpus.plan(episode_seed, STEPS * 2)
        guide = Guide(corpus, plan, episode_seed)
        steps = plan.steps(STEPS * 2)
        result = run_episode(ReferenceSwap, OptimizedSwap, seed=episode_seed, steps=steps, guide=guide)
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
        assert seed.flushes and seed.flushes[-1][0] == len(seed.checkpoint.calls)


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


def test_record_keeps_a_round_that_found_something_whole():
    corpus = Corpus()
    chooser = TapeChooser(1)
    for _ in range(10):
        chooser.integer(0, 100)
        chooser.mark()
    plan = Plan("fresh", [])
    flushes = [[7, 1], [10, 1]]
    assert corpus.record(plan, chooser, [0, 3, 0, 0, 2, 0, 0, 0, 0, 0], flushes)
    (kept,) = corpus.seeds
    assert kept.marks == chooser.marks and kept.tape == chooser.recorded and kept.found == 5
    assert kept.flushes == flushes and kept.steps == 9
    assert not corpus.record(plan, chooser, [0] * 10)
    # An unguided round is counted, never kept.
    assert not corpus.record(Plan(UNGUIDED, []), chooser, [1] * 10)
    assert len(corpus.seeds) == 1 and corpus.rounds == {"fresh": 2, UNGUIDED: 1}
    assert corpus.yields == {"fresh": [5, 20]}


def _seed(tape=(1, 2, 3), marks=(1, 2, 3), found=4) -> Seed:
    return Seed(list(tape), list(marks), [[len(tape), 0]], found=found, origin="fresh")


def test_fruitless_children_drain_their_parents_energy():
    corpus = Corpus(seeds=[_seed()])
    parent = corpus.seeds[0]
    full = parent.energy()
    chooser = TapeChooser(0)
    chooser.skip(parent)
    child = Plan("extend", list(parent.tape), 0, parent)
    for _ in range(8):
        corpus.record(child, chooser, [0])
    assert parent.energy() == pytest.approx(full / 2) and parent.picks == 8
    corpus.record(child, chooser, [1])
    assert parent.energy() == full
    assert corpus.yields == {"mutation": [1, 9]}


def test_a_seed_as_long_as_an_episode_is_never_continued():
    corpus = Corpus(seeds=[_seed(marks=(1, 2, 3))])  # two steps
    plans = [corpus.plan(k, episode_steps=2) for k in range(30)]
    assert {p.kind for p in plans} == {"fresh"}
    plans = [corpus.plan(k, episode_steps=3) for k in range(30)]
    assert {p.kind for p in plans} > {"fresh"}
    assert all(p.steps(3) == 1 for p in plans if p.prefix is not None)
    assert Plan("fresh", []).steps(3) == 1 and Plan("fresh", []).steps(10**6) == FRESH_STEPS
    assert Plan(UNGUIDED, []).steps(3) == 3


@pytest.mark.parametrize("kind", MUTATIONS)
def test_every_continuation_replays_its_seed_then_pieces_of_kept_steps(kind):
    rng = random.Random(4)
    seeds = []
    for n in range(3):
        marks = [2]
        for _ in range(5 + n):
            marks.append(marks[-1] + rng.randint(1, 4))
        seeds.append(Seed([rng.randrange(50) for _ in range(marks[-1])], marks, [], 1, "fresh"))
    corpus = Corpus(seeds=seeds)
    steps = [s.tape[s.marks[i - 1] : s.marks[i]] for s in seeds for i in range(1, len(s.marks))]
    for k in range(30):
        plan = corpus.plan(k)
        if plan.prefix is None:
            continue
        assert plan.tape[: len(plan.prefix.tape)] == plan.prefix.tape
        tail = plan.tape[len(plan.prefix.tape) :]
        if plan.kind == "extend":
            assert tail == []
        elif plan.kind in ("splice", "repeat"):
            assert _is_run_of_steps(tail, seeds, plan.kind)
        elif plan.kind == "boundary":
            assert tail and any(_one_draw_at_an_end(tail, step) for step in steps)
    piece = corpus._continuation(kind, seeds[0], random.Random(9))
    assert isinstance(piece, list) and all(isinstance(v, int) for v in piece)


def _is_run_of_steps(tail: list[int], seeds: list[Seed], kind: str) -> bool:
    """`tail` is 1..MAX_RUN consecutive whole steps of a seed, played once (splice) or 2-4
    times (repeat, the seed's own)."""
    for s in seeds:
        for lo in range(s.steps):
            for hi in range(lo + 1, min(s.steps, lo + 64) + 1):
                run = s.tape[s.marks[lo] : s.marks[hi]]
                times = (1,) if kind == "splice" else (2, 3, 4)
                if any(tail == run * t for t in times):
                    return True
    return False


def _one_draw_at_an_end(tail: list[int], step: list[int]) -> bool:
    """`tail` is `step` with one draw set to 0 or -1, played 1-4 times."""
    n = len(step)
    if not n or len(tail) % n or not 1 <= len(tail) // n <= 4:
        return False
    piece = tail[:n]
    if tail != piece * (len(tail) // n):
        return False
    diff = [i for i in range(n) if piece[i] != step[i]]
    return len(diff) <= 1 and all(piece[i] in (0, -1) for i in diff)


def test_a_continuation_is_the_replay_of_its_whole_tape_with_or_without_a_checkpoint(monkeypatch):
    corpus, _ = guided_rounds(4)
    assert all(s.checkpoint is not None for s in corpus.seeds)
    restored = Corpus.from_json(json.loads(json.dumps(corpus.to_json())))  # no checkpoints
    monkeypatch.setattr(Guide, "wants_checkpoint", lambda self: True)
    for k, kind in enumerate(MUTATIONS):
        ends = []
        for c in (corpus, restored):
            index = k % len(c.seeds)
            parent = c.seeds[index]
            plan = Plan(kind, parent.tape + c._continuation(kind, parent, random.Random(k)), index, parent)
            guide = Guide(c, plan, 50 + k)
            result = run_episode(ReferenceSwap, OptimizedSwap, seed=50 + k, steps=60, guide=guide)
            assert result.divergence is None and result.steps == 60
            assert parent.checkpoint is not None  # the restored corpus rebuilt it
            ends.append((guide.chooser.recorded, guide.flushes, guide.checkpoint))
        (tape, flushes, left), (tape_again, flushes_again, right) = ends
        assert tape == tape_again and flushes == flushes_again
        calls, _ = episode_calls(ReferenceSwap, seed=50 + k, count=len(left.calls), tape=tape)
        assert list(left.calls) == list(right.calls) == calls
        assert left.results == right.results and left.digests == right.digests
        for a, b in ((left.reference, right.reference), (left.impl, right.impl)):
            assert a.snapshot("allocator").to_json() == b.snapshot("allocator").to_json()
