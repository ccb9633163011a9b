"""The guided fast mode's corpus: kept episode prefixes, their energy, and the round schedule.

(Not `fuzz.cli.corpus`, which shares known *divergences* between campaigns.)

A fast episode is a function of its choices: the world asks a chooser for every decision
(`fuzz.choosers`), and `TapeChooser` records each one as an integer below the range it was
asked for, with a mark at the end of the setup (geometry and swarm) and after every world step.
Replaying a tape reproduces the episode; a changed tape is a related episode: each recorded
value is taken modulo the range asked for at replay, and once the tape runs out the draws come
from the round's own seeded RNG.

A round (`Corpus.plan`; `Plan.steps` says how long) is either fresh (every round while the
corpus is empty, then a share that follows whether fresh or mutated rounds find more new
features and pairs per step, `Corpus.fresh_share`) or a mutation of a kept prefix picked by
energy:

- `extend`: replay the prefix, continue with new draws;
- `splice`: the steps of one prefix, then a run of steps taken from another;
- `repeat`: a run of steps of the prefix played 2-4 times over (fill, free, fill again);
- `boundary`: one drawn value of one step changed to an end of its range (the first or last
  key of a weight table, the smallest or largest size, a boundary-value coin turned on), the
  rest of the prefix kept;
- `havoc`: two to four of the above in a row.

After the round (`Corpus.record`), the prefix up to the last step that reached a new feature
or pair (`fuzz.features`) is kept, with energy growing with what it found; a seed whose
children keep finding nothing loses energy, and past `MAX_SEEDS` the weakest goes.  Everything
is drawn from `random.Random` seeded by the campaign's round seed, so the same seed and budget
give the same rounds, and the corpus is plain data (`to_json`/`from_json`) that travels with a
distributed campaign's state and survives `--resume`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fuzz.choosers import _COIN_RESOLUTION, _coin_threshold, weight_table
from fuzz.features import FeatureTracker, feature_id, name_of, pair_name

T = TypeVar("T")

FRESH_SHARE = 0.2
# Guided rounds are short, so most of a campaign's steps go to what comes after kept states:
# a fresh round runs FRESH_STEPS steps, a mutated one its prefix and EXTEND_STEPS more.
FRESH_STEPS = 2000
EXTEND_STEPS = 500
MAX_SEEDS = 256
MAX_FOUND_CREDIT = 32  # a seed's energy stops growing with what it found past this
FAILS_PER_HALVING = 8  # a seed's energy halves every this many fruitless picks
MUTATIONS: tuple[str, ...] = ("extend", "splice", "repeat", "boundary", "havoc")
STATE_VERSION = 1
# The kind of an unguided round: a fresh episode whose features are counted, never kept.
UNGUIDED = "unguided"


class TapeChooser:
    """A `fuzz.choosers.Chooser` that replays `tape` (each value modulo the range asked for)
    and then draws from `random.Random(seed)`, recording every draw in `recorded`.

    With an empty tape it draws exactly what `RandomChooser(seed)` draws."""

    def __init__(self, seed: int | str, tape: Sequence[int] = ()) -> None:
        self.rng = random.Random(seed)
        self.replay = tape
        self.recorded: list[int] = []
        self.marks: list[int] = []  # len(recorded) at the end of setup and of every step

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
    """A kept prefix: its tape and step marks (`marks[0]` ends the setup, `marks[k]` step k)."""

    tape: list[int]
    marks: list[int]
    found: int  # new features and pairs it reached when kept
    origin: str  # how it was made (fresh, or the mutation)
    picks: int = 0
    fails: int = 0  # picks since one of its children last found something new

    @property
    def steps(self) -> int:
        return len(self.marks) - 1

    def energy(self) -> float:
        return (1 + min(self.found, MAX_FOUND_CREDIT)) * 0.5 ** (self.fails / FAILS_PER_HALVING)

    def to_json(self) -> dict[str, Any]:
        return {
            "tape": self.tape,
            "marks": self.marks,
            "found": self.found,
            "origin": self.origin,
            "picks": self.picks,
            "fails": self.fails,
        }


@dataclass
class Plan:
    """One round's schedule: the tape to replay (empty: fresh), where it came from, and how
    many whole steps the tape holds."""

    kind: str
    tape: list[int]
    parent: int | None = None  # index of the seed it mutates
    prefix_steps: int = 0

    def steps(self, episode_steps: int) -> int:
        """The round's world steps: a fresh guided round is short (`FRESH_STEPS`), a mutation
        plays its prefix and `EXTEND_STEPS` more; never more than `episode_steps` (an
        unguided round runs them all)."""
        if self.kind == UNGUIDED:
            return episode_steps
        if not self.tape:
            return min(episode_steps, FRESH_STEPS)
        return min(episode_steps, self.prefix_steps + EXTEND_STEPS)


@dataclass
class Corpus:
    """Kept prefixes plus every feature and pair reached so far (names; ids per process)."""

    seeds: list[Seed] = field(default_factory=list)
    features: set[int] = field(default_factory=set)
    pairs: set[int] = field(default_factory=set)
    rounds: dict[str, int] = field(default_factory=dict)  # rounds per kind
    productive: dict[str, int] = field(default_factory=dict)  # rounds per kind that found something
    # [new features and pairs, steps] of fresh and of mutated rounds: the fresh share follows
    # which of the two finds more per step (`fresh_share`).
    yields: dict[str, list[int]] = field(default_factory=dict)

    # ---- the schedule ----

    def plan(self, seed: int) -> Plan:
        """The round of episode seed `seed` (see the module docstring)."""
        rng = random.Random(f"swapdiff-guided:{seed}")
        if not self.seeds or rng.random() < self.fresh_share():
            return Plan("fresh", [])
        parent = self._pick(rng)
        kind = rng.choice(MUTATIONS)
        tape, marks = self._mutate(kind, self.seeds[parent], rng)
        return Plan(kind, tape, parent, len(marks) - 1)

    def fresh_share(self) -> float:
        """The share of fresh rounds: what fresh rounds find per step against what mutated ones
        find, within [FRESH_SHARE, 1 - FRESH_SHARE] (FRESH_SHARE until both have run).  Early
        in a campaign nearly every fresh step is new and fresh rounds win; once they saturate
        the kept prefixes take over."""
        fresh, mutated = self.yields.get("fresh"), self.yields.get("mutation")
        if not fresh or not mutated or not fresh[1] or not mutated[1]:
            return FRESH_SHARE
        rate_fresh, rate_mutated = fresh[0] / fresh[1], mutated[0] / mutated[1]
        if rate_fresh + rate_mutated == 0:
            return FRESH_SHARE
        share = rate_fresh / (rate_fresh + rate_mutated)
        return min(1 - FRESH_SHARE, max(FRESH_SHARE, share))

    def _pick(self, rng: random.Random) -> int:
        energies = [s.energy() for s in self.seeds]
        point = rng.random() * sum(energies)
        for i, e in enumerate(energies):
            point -= e
            if point < 0:
                return i
        return len(self.seeds) - 1

    def _mutate(self, kind: str, seed: Seed, rng: random.Random) -> tuple[list[int], list[int]]:
        if kind == "havoc":
            tape, marks = seed.tape, seed.marks
            for _ in range(rng.randint(2, 4)):
                tape, marks = self._once(rng.choice(MUTATIONS[1:4]), tape, marks, rng)
            return tape, marks
        return self._once(kind, seed.tape, seed.marks, rng)

    def _once(
        self, kind: str, tape: list[int], marks: list[int], rng: random.Random
    ) -> tuple[list[int], list[int]]:
        """One mutation of (tape, marks); the marks of the result are exact where steps were
        copied whole, which is all a later mutation in a havoc run needs."""
        steps = len(marks) - 1
        if kind == "extend" or steps < 1:
            return list(tape), list(marks)
        if kind == "splice":
            other = self.seeds[rng.randrange(len(self.seeds))]
            cut = rng.randint(1, steps)
            if other.steps < 1:
                return tape[: marks[cut]], marks[: cut + 1]
            lo = rng.randint(0, other.steps - 1)
            hi = rng.randint(lo + 1, other.steps)
            return _join(tape, marks, cut, other.tape, other.marks, lo, hi)
        if kind == "repeat":
            lo = rng.randint(0, steps - 1)
            hi = rng.randint(lo + 1, min(steps, lo + 64))
            piece = tape[marks[lo] : marks[hi]]
            times = rng.randint(2, 4)
            new_tape = tape[: marks[hi]] + piece * (times - 1) + tape[marks[hi] :]
            width = marks[hi] - marks[lo]
            step_marks = [m - marks[lo] for m in marks[lo + 1 : hi + 1]]
            new_marks = list(marks[: hi + 1])
            for t in range(1, times):
                new_marks += [marks[hi] + (t - 1) * width + m for m in step_marks]
            shift = (times - 1) * width
            new_marks += [m + shift for m in marks[hi + 1 :]]
            return new_tape, new_marks
        # boundary: one draw of one step (or of the setup) to an end of its range: 0, or -1,
        # which the replay's modulo turns into the range's last value.
        step = rng.randint(0, steps)
        lo = marks[step - 1] if step > 0 else 0
        hi = marks[step]
        if hi <= lo:
            return list(tape), list(marks)
        new_tape = list(tape)
        new_tape[rng.randrange(lo, hi)] = rng.choice((0, -1))
        return new_tape, list(marks)

    # ---- after the round ----

    def record(self, plan: Plan, chooser: TapeChooser, found_at: list[int]) -> bool:
        """Keep the round's prefix up to its last step that reached something new (`found_at`:
        new features and pairs per step, index 0 the setup); returns whether it was kept."""
        self.rounds[plan.kind] = self.rounds.get(plan.kind, 0) + 1
        found = sum(found_at)
        if plan.kind == UNGUIDED:
            return False
        tally = self.yields.setdefault("fresh" if plan.kind == "fresh" else "mutation", [0, 0])
        tally[0] += found
        tally[1] += max(0, len(chooser.marks) - 1)
        parent = self.seeds[plan.parent] if plan.parent is not None else None
        if parent is not None:
            parent.picks += 1
            parent.fails = 0 if found else parent.fails + 1
        if not found:
            return False
        self.productive[plan.kind] = self.productive.get(plan.kind, 0) + 1
        last = max(i for i, n in enumerate(found_at) if n)
        marks = chooser.marks[: last + 1]
        self.seeds.append(Seed(chooser.recorded[: marks[-1]], marks, found, plan.kind))
        if len(self.seeds) > MAX_SEEDS:
            weakest = min(range(len(self.seeds)), key=lambda i: (self.seeds[i].energy(), i))
            del self.seeds[weakest]
        return True

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


def _join(
    tape: list[int], marks: list[int], cut: int, other: list[int], other_marks: list[int], lo: int, hi: int
) -> tuple[list[int], list[int]]:
    """Steps 1..cut of `tape` (with its setup), then steps lo+1..hi of `other`."""
    head = tape[: marks[cut]]
    piece = other[other_marks[lo] : other_marks[hi]]
    base = marks[cut] - other_marks[lo]
    return head + piece, marks[: cut + 1] + [m + base for m in other_marks[lo + 1 : hi + 1]]


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
    plan's tape, the feature tracker on the episode's reference, and what each step found."""

    def __init__(self, corpus: Corpus, plan: Plan, seed: int) -> None:
        self.corpus = corpus
        self.plan = plan
        self.chooser = TapeChooser(seed, plan.tape)
        self.tracker: FeatureTracker | None = None
        self.found_at: list[int] = []  # new features and pairs: index 0 the setup, k step k
        self._counted = 0

    def observe(self, reference: Any) -> FeatureTracker:
        """The tracker the episode's recording executor calls around every call."""
        self.tracker = FeatureTracker(reference, features=self.corpus.features, pairs=self.corpus.pairs)
        return self.tracker

    def step_done(self) -> None:
        """The setup (first call) or one more world step ended."""
        self.chooser.mark()
        tracker = self.tracker
        total = 0 if tracker is None else len(tracker.new_features) + len(tracker.new_pairs)
        self.found_at.append(total - self._counted)
        self._counted = total

    def finish(self) -> bool:
        """Record the round in the corpus; returns whether its prefix was kept."""
        if self.tracker is None:
            return False
        return self.corpus.record(self.plan, self.chooser, self.found_at)

    def new_names(self) -> tuple[list[str], list[str]]:
        """The names of the features and pairs this round reached first."""
        if self.tracker is None:
            return [], []
        return [name_of(f) for f in self.tracker.new_features], [pair_name(p) for p in self.tracker.new_pairs]
