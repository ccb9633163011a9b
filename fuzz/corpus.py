"""The guided fast mode's corpus: kept episodes, their energy, and the round schedule.

(Not `fuzz.cli.corpus`, which shares known *divergences* between campaigns.)

A fast episode is a function of its choices: the world asks a chooser for every decision
(`fuzz.choosers`), and `TapeChooser` records each one as an integer below the range it was
asked for, with a mark at the end of the setup (geometry and swarm) and after every world step.
Replaying a tape reproduces the episode; a changed tape is a related episode: each recorded
value is taken modulo the range asked for at replay, and once the tape runs out the draws come
from the round's own seeded RNG.

A round that reached a new feature or pair (`fuzz.features`) is kept whole as a *seed*, with
a checkpoint of its end state (`fuzz.checkpoint`).  A round (`Corpus.plan`; `Plan.steps` says
how long) is either fresh (every round while the corpus is empty, then a share that follows
whether fresh rounds or continuations find more new features and pairs per step,
`Corpus.fresh_share`) or a continuation of a seed picked by energy: the episode is restored at
the seed's end, so none of its steps run again, and goes on with

- `extend`: new draws;
- `splice`: a run of another seed's steps first (their draws, replayed in this state);
- `repeat`: a run of the seed's own steps played 2-4 times over (fill, free, fill again);
- `boundary`: a step of the seed with one draw at an end of its range (the first or last key
  of a weight table, the smallest or largest size, a boundary-value coin turned on), 1-4 times;
- `havoc`: two to four of these pieces in a row,

then new draws.  The round's tape is the seed's tape plus the continuation, so replaying it
from the start gives the same episode (what a resumed or distributed campaign does when the
checkpoint is not at hand, and what rebuilds a hung round).  A seed whose children keep finding
nothing loses energy, past `MAX_SEEDS` the weakest goes, and an episode is never continued past
the campaign's `--episode-steps`.  Everything is drawn from `random.Random` seeded by the
campaign's round seed, so the same seed and budget give the same rounds, and the corpus is plain
data (`to_json`/`from_json`; checkpoints are a per-process cache) that travels with a
distributed campaign's state and survives `--resume`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fuzz.choosers import _COIN_RESOLUTION, _coin_threshold, weight_table
from fuzz.features import FeatureTracker, feature_id, name_of, pair_name

if TYPE_CHECKING:
    from fuzz.checkpoint import Checkpoint

T = TypeVar("T")

FRESH_SHARE = 0.2
# A fresh guided round runs FRESH_STEPS steps, a continuation CONTINUE_STEPS more after its
# seed's end (never past the campaign's --episode-steps in all).
FRESH_STEPS = 1000
CONTINUE_STEPS = 500
MAX_SEEDS = 256
MAX_CHECKPOINTS = 64  # seeds holding a checkpoint at once; the others replay their tape once
MAX_FOUND_CREDIT = 32  # a seed's energy stops growing with what it found past this
FAILS_PER_HALVING = 8  # a seed's energy halves every this many fruitless picks
MAX_RUN = 64  # the longest run of steps a splice or repeat copies
MUTATIONS: tuple[str, ...] = ("extend", "splice", "repeat", "boundary", "havoc")
STATE_VERSION = 2
# The kind of an unguided round: a fresh episode whose features are counted, never kept.
UNGUIDED = "unguided"


class TapeChooser:
    """A `fuzz.choosers.Chooser` that replays `tape` (each value modulo the range asked for)
    and then draws from `random.Random(seed)`, recording every draw in `recorded`.

    With an empty tape it draws exactly what `RandomChooser(seed)` draws.  `skip(seed)`
    positions it at the end of a kept episode restored from its checkpoint."""

    def __init__(self, seed: int | str, tape: Sequence[int] = ()) -> None:
        self.rng = random.Random(seed)
        self.replay = tape
        self.recorded: list[int] = []
        self.marks: list[int] = []  # len(recorded) at the end of setup and of every step

    def skip(self, kept: Seed) -> None:
        """Take the draws and marks of `kept` (whose tape begins the replayed one) as made."""
        self.recorded = list(kept.tape)
        self.marks = list(kept.marks)

    def _below(self, n: int) -> int:
        recorded = self.recorded
        i = len(recorded)
        value = self.replay[i] % n if i < len(self.replay) else self.rng.randrange(n)
        recorded.append(value)
        return value

    def mark(self) -> None:
        self.marks.append(len(self.recorded))

    def integer(self, lo: int, hi: int) -> int:
        return lo + self._below(hi - lo + 1)

    def boolean(self, p: float = 0.5) -> bool:
        return self._below(_COIN_RESOLUTION) >= _coin_threshold(p)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self._below(len(seq))]

    def weighted(self, weights: Mapping[str, float]) -> str:
        table = weight_table(weights)
        return table.pick(self._below(table.total))


@dataclass
class Seed:
    """A kept episode: its tape, step marks (`marks[0]` ends the setup, `marks[k]` step k) and
    candidate chunks (`flushes`: [end call, round seed] of each, which `fuzz.modes.fast`
    replays to rebuild the candidate's state exactly), plus its checkpoint when this process
    holds one."""

    tape: list[int]
    marks: list[int]
    flushes: list[list[int]]
    found: int  # new features and pairs the round that made it reached
    origin: str  # how it was made (fresh, or the mutation)
    picks: int = 0
    fails: int = 0  # picks since one of its children last found something new
    checkpoint: Checkpoint | None = field(default=None, repr=False, compare=False)

    @property
    def steps(self) -> int:
        return len(self.marks) - 1

    def energy(self) -> float:
        return (1 + min(self.found, MAX_FOUND_CREDIT)) * 0.5 ** (self.fails / FAILS_PER_HALVING)

    def to_json(self) -> dict[str, Any]:
        return {
            "tape": self.tape,
            "marks": self.marks,
            "flushes": self.flushes,
            "found": self.found,
            "origin": self.origin,
            "picks": self.picks,
            "fails": self.fails,
        }


@dataclass
class Plan:
    """One round's schedule: the tape to replay (empty: fresh), and for a continuation the
    seed it continues (`prefix`, whose tape begins `tape`) and that seed's index."""

    kind: str
    tape: list[int]
    parent: int | None = None
    prefix: Seed | None = field(default=None, repr=False)

    def steps(self, episode_steps: int) -> int:
        """The round's new world steps: a fresh guided round is short (`FRESH_STEPS`, at most
        half of `episode_steps`), a continuation runs `CONTINUE_STEPS` after its seed; an
        episode never exceeds `episode_steps` in all (an unguided round runs them all)."""
        if self.kind == UNGUIDED:
            return episode_steps
        if self.prefix is None:  # at most half the episode: room is left to continue it
            return min(FRESH_STEPS, max(1, episode_steps // 2))
        return max(0, min(CONTINUE_STEPS, episode_steps - self.prefix.steps))


@dataclass
class Corpus:
    """Kept episodes plus every feature and pair reached so far (names; ids per process)."""

    seeds: list[Seed] = field(default_factory=list)
    features: set[int] = field(default_factory=set)
    pairs: set[int] = field(default_factory=set)
    rounds: dict[str, int] = field(default_factory=dict)  # rounds per kind
    productive: dict[str, int] = field(default_factory=dict)  # rounds per kind that found something
    # [new features and pairs, steps] of fresh rounds and of continuations: the fresh share
    # follows which of the two finds more per step (`fresh_share`).
    yields: dict[str, list[int]] = field(default_factory=dict)

    # ---- the schedule ----

    def plan(self, seed: int, episode_steps: int | None = None) -> Plan:
        """The round of episode seed `seed` (see the module docstring); a seed of
        `episode_steps` steps or more is never continued."""
        rng = random.Random(f"swapdiff-guided:{seed}")
        open_seeds = [i for i, s in enumerate(self.seeds) if episode_steps is None or s.steps < episode_steps]
        if not open_seeds or rng.random() < self.fresh_share():
            return Plan("fresh", [])
        parent = self._pick(rng, open_seeds)
        kind = rng.choice(MUTATIONS)
        prefix = self.seeds[parent]
        return Plan(kind, prefix.tape + self._continuation(kind, prefix, rng), parent, prefix)

    def fresh_share(self) -> float:
        """The share of fresh rounds: what fresh rounds find per step against what
        continuations find, within [FRESH_SHARE, 1 - FRESH_SHARE] (FRESH_SHARE until both
        have run)."""
        fresh, mutated = self.yields.get("fresh"), self.yields.get("mutation")
        if not fresh or not mutated or not fresh[1] or not mutated[1]:
            return FRESH_SHARE
        rate_fresh, rate_mutated = fresh[0] / fresh[1], mutated[0] / mutated[1]
        if rate_fresh + rate_mutated == 0:
            return FRESH_SHARE
        share = rate_fresh / (rate_fresh + rate_mutated)
        return min(1 - FRESH_SHARE, max(FRESH_SHARE, share))

    def _pick(self, rng: random.Random, candidates: list[int]) -> int:
        energies = [self.seeds[i].energy() for i in candidates]
        point = rng.random() * sum(energies)
        for i, e in zip(candidates, energies, strict=True):
            point -= e
            if point < 0:
                return i
        return candidates[-1]

    def _continuation(self, kind: str, seed: Seed, rng: random.Random) -> list[int]:
        """The draws a continuation of `seed` replays after its end (then new draws)."""
        if kind == "havoc":
            out: list[int] = []
            for _ in range(rng.randint(2, 4)):
                out += self._piece(rng.choice(MUTATIONS[1:4]), seed, rng)
            return out
        return self._piece(kind, seed, rng)

    def _piece(self, kind: str, seed: Seed, rng: random.Random) -> list[int]:
        if kind == "extend" or seed.steps < 1:
            return []
        if kind == "splice":
            other = self.seeds[rng.randrange(len(self.seeds))]
            return _run(other, rng) if other.steps >= 1 else []
        if kind == "repeat":
            return _run(seed, rng) * rng.randint(2, 4)
        # boundary: one step of the seed with one draw set to an end of its range: 0, or -1,
        # which the replay's modulo turns into the range's last value.
        step = rng.randint(1, seed.steps)
        piece = seed.tape[seed.marks[step - 1] : seed.marks[step]]
        if not piece:
            return []
        piece[rng.randrange(len(piece))] = rng.choice((0, -1))
        return piece * rng.randint(1, 4)

    # ---- after the round ----

    def record(
        self,
        plan: Plan,
        chooser: TapeChooser,
        found_at: list[int],
        flushes: list[list[int]] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> bool:
        """Keep the round whole if it reached something new (`found_at`: new features and
        pairs per step the round ran, the setup counting as one for a fresh round), with its
        candidate `flushes` and end `checkpoint`; returns whether it was kept."""
        self.rounds[plan.kind] = self.rounds.get(plan.kind, 0) + 1
        found = sum(found_at)
        if plan.kind == UNGUIDED:
            return False
        tally = self.yields.setdefault("fresh" if plan.prefix is None else "mutation", [0, 0])
        tally[0] += found
        tally[1] += len(found_at)
        parent = plan.prefix
        if parent is not None:
            parent.picks += 1
            parent.fails = 0 if found else parent.fails + 1
        if not found:
            return False
        self.productive[plan.kind] = self.productive.get(plan.kind, 0) + 1
        kept = Seed(list(chooser.recorded), list(chooser.marks), list(flushes or []), found, plan.kind)
        kept.checkpoint = checkpoint
        self.seeds.append(kept)
        if len(self.seeds) > MAX_SEEDS:
            weakest = min(range(len(self.seeds)), key=lambda i: (self.seeds[i].energy(), i))
            del self.seeds[weakest]
        self._limit_checkpoints()
        return True

    def _limit_checkpoints(self) -> None:
        """Past MAX_CHECKPOINTS, the weakest seeds give theirs up (they replay their tape once
        when picked again; what a round does never depends on it)."""
        holding = [i for i, s in enumerate(self.seeds) if s.checkpoint is not None]
        if len(holding) <= MAX_CHECKPOINTS:
            return
        holding.sort(key=lambda i: (self.seeds[i].energy(), i))
        for i in holding[: len(holding) - MAX_CHECKPOINTS]:
            self.seeds[i].checkpoint = None

    # ---- plain data ----

    def to_json(self) -> dict[str, Any]:
        return {
            "swapdiff_corpus": STATE_VERSION,
            "seeds": [s.to_json() for s in self.seeds],
            "features": sorted(name_of(f) for f in self.features),
            "pairs": sorted(pair_name(p) for p in self.pairs),
            "rounds": dict(sorted(self.rounds.items())),
            "productive": dict(sorted(self.productive.items())),
            "yields": dict(sorted(self.yields.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Corpus:
        if data.get("swapdiff_corpus") != STATE_VERSION:
            raise ValueError(f"not a version {STATE_VERSION} corpus")
        corpus = cls(
            seeds=[Seed(**s) for s in data["seeds"]],
            rounds=dict(data.get("rounds", {})),
            productive=dict(data.get("productive", {})),
            yields={k: list(v) for k, v in data.get("yields", {}).items()},
        )
        corpus.features = {feature_id(_parse(n)) for n in data["features"]}
        corpus.pairs = {_pair_id(n) for n in data["pairs"]}
        return corpus


def _run(seed: Seed, rng: random.Random) -> list[int]:
    """The draws of a run of 1 to MAX_RUN consecutive steps of `seed`."""
    lo = rng.randint(0, seed.steps - 1)
    hi = rng.randint(lo + 1, min(seed.steps, lo + MAX_RUN))
    return seed.tape[seed.marks[lo] : seed.marks[hi]]


def _parse(name: str) -> tuple[Any, ...]:
    """A feature tuple back from its name (ints where the field is an int)."""
    return tuple(int(part) if part.lstrip("-").isdigit() else _word(part) for part in name.split(":"))


def _word(part: str) -> Any:
    return {"True": True, "False": False}.get(part, part)


def _pair_id(name: str) -> int:
    from fuzz.features import _PAIR_SHIFT

    first, _, second = name.partition(" -> ")
    return feature_id(_parse(first)) << _PAIR_SHIFT | feature_id(_parse(second))


class Guide:
    """One guided round inside `fuzz.modes.fast.run_episode`: the chooser that plays the
    plan's tape (positioned after the seed a continuation restores), the feature tracker on
    the episode's reference, what each step found, and the candidate chunks run."""

    def __init__(self, corpus: Corpus, plan: Plan, seed: int) -> None:
        self.corpus = corpus
        self.plan = plan
        self.chooser = TapeChooser(seed, plan.tape)
        self.prefix = plan.prefix
        if self.prefix is not None:
            self.chooser.skip(self.prefix)
        self.flushes: list[list[int]] = [] if self.prefix is None else [list(f) for f in self.prefix.flushes]
        self.tracker: FeatureTracker | None = None
        self.found_at: list[int] = []  # new features and pairs per step (a fresh round: setup first)
        self.checkpoint: Checkpoint | None = None
        self._counted = 0

    def observe(self, reference: Any) -> FeatureTracker:
        """The tracker the episode's recording executor calls around every call."""
        self.tracker = FeatureTracker(reference, features=self.corpus.features, pairs=self.corpus.pairs)
        return self.tracker

    def step_done(self) -> None:
        """The setup (first call of a fresh round) or one more world step ended."""
        self.chooser.mark()
        tracker = self.tracker
        total = 0 if tracker is None else len(tracker.new_features) + len(tracker.new_pairs)
        self.found_at.append(total - self._counted)
        self._counted = total

    def flushed(self, end: int, seed: int) -> None:
        """The candidate ran the episode's calls up to `end` as one chunk of round `seed`."""
        self.flushes.append([end, seed])

    def wants_checkpoint(self) -> bool:
        """Whether the round's end state will be kept (it found something new)."""
        return self.plan.kind != UNGUIDED and self.tracker is not None and any(self.found_at)

    def finish(self) -> bool:
        """Record the round in the corpus; returns whether it was kept."""
        if self.tracker is None:
            return False
        return self.corpus.record(self.plan, self.chooser, self.found_at, self.flushes, self.checkpoint)

    def new_names(self) -> tuple[list[str], list[str]]:
        """The names of the features and pairs this round reached first."""
        if self.tracker is None:
            return [], []
        return [name_of(f) for f in self.tracker.new_features], [pair_name(p) for p in self.tracker.new_pairs]
