"""The differential Hypothesis state machine: a world model driving two implementations.

`make_machine(ReferenceSwap, OptimizedSwap, profile="mthp")` returns a
`RuleBasedStateMachine` class.  Each test case draws a geometry (unless one is fixed), builds
both implementations behind a `Lockstep` executor, swaps on the devices, then runs weighted
world actions: the single `step` rule asks the world to pick an enabled action by the
profile's weights, with every choice drawn from Hypothesis so failures shrink.  The lockstep
executor raises `Divergence` on the first difference (state digests after every call, full
snapshots and invariants every `Lockstep.full_every` calls and at the end of every example);
the allocator transitions each step reached are reported with `hypothesis.event()`.  The
world's calls also pass through a `fuzz.features.FeatureTracker` (the state features and
pairs of guided campaigns): an example scores, with `hypothesis.target()`, the features and
pairs it reached first in this class, and says with `event()` whether it reached any.

Class attributes aggregate over every test case the class ran in this process: `totals`
(world action counts), `label_totals` (event labels), `steps_run`, and `last_lockstep` (the
lockstep of the most recent test case; after a failure Hypothesis replays the minimal example
last, so its `history` is the failing trace).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from hypothesis import event, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from fuzz.choosers import HypothesisChooser
from fuzz.events import RARE_LABELS
from fuzz.features import FeatureTracker, ObservedExecutor
from fuzz.lockstep import Lockstep
from fuzz.swarm import episode_setup
from fuzz.workloads import get_profile
from fuzz.world import LEAD_ACTIONS, Geometry, World

_RARE = frozenset(RARE_LABELS)
# A new state feature scores as much as this many new pairs (pairs are far more numerous).
FEATURE_WEIGHT = 16


def make_machine(
    reference_cls: type,
    candidate_cls: type,
    *,
    geometry: Geometry | None = None,
    profile: str = "default",
    level: str = "allocator",
    same_device: bool = True,
) -> type[RuleBasedStateMachine]:
    """A state machine class comparing `candidate_cls` against `reference_cls` at `level`
    (`allocator`, `contract`, or `accounting`: entries up to renaming, `fuzz.accounting`;
    `same_device` is that level's switch)."""
    get_profile(profile)  # fail now, with the list of names, on a typo

    class DifferentialMachine(RuleBasedStateMachine):
        totals: ClassVar[Counter[str]] = Counter()
        label_totals: ClassVar[Counter[str]] = Counter()
        steps_run: ClassVar[int] = 0
        last_lockstep: ClassVar[Lockstep | None] = None
        features: ClassVar[set[int]] = set()  # state features and pairs any example reached
        pairs: ClassVar[set[int]] = set()

        def __init__(self) -> None:
            super().__init__()
            self.world: World | None = None
            self.lockstep: Lockstep | None = None
            self.rare: set[str] = set()  # rare labels (fuzz.events.RARE_LABELS) this example hit
            self.tracker: FeatureTracker | None = None

        @initialize(data=st.data())
        def setup(self, data: Any) -> None:
            chooser = HypothesisChooser(data)
            geo, swarm = episode_setup(chooser, geometry, profile=profile)
            kwargs = geo.impl_kwargs()
            reference = reference_cls(**kwargs)
            self.lockstep = Lockstep(reference, candidate_cls(**kwargs), level=level, same_device=same_device)
            type(self).last_lockstep = self.lockstep
            cls = type(self)
            self.tracker = FeatureTracker(reference, features=cls.features, pairs=cls.pairs)
            executor = ObservedExecutor(self.lockstep, self.tracker)
            self.world = World(geo, executor, profile=profile, **swarm.world_kwargs())
            self.world.setup()
            self._report_labels()

        @rule(data=st.data())
        def step(self, data: Any) -> None:
            assert self.world is not None
            self.world.step(HypothesisChooser(data, lead=LEAD_ACTIONS))
            type(self).steps_run += 1
            self._report_labels()

        def _report_labels(self) -> None:
            assert self.lockstep is not None
            for label in self.lockstep.take_labels():
                event(label)
                if label in _RARE:
                    self.rare.add(label)

        def teardown(self) -> None:
            if self.world is not None and self.lockstep is not None and self.tracker is not None:
                # Steer toward rare labels not yet hit: each one this example reached scores
                # more the fewer times this class has seen it (1 for a label never seen), so
                # Hypothesis' targeting phase mutates the examples that reach new rare states.
                seen = type(self).label_totals
                target(sum(1.0 / (1 + seen[label]) for label in self.rare), label="rare labels")
                # And toward new state features and pairs (fuzz.features), as guided fast mode.
                new_features, new_pairs = len(self.tracker.new_features), len(self.tracker.new_pairs)
                target(float(FEATURE_WEIGHT * new_features + new_pairs), label="new state features and pairs")
                event("new state features" if new_features else "no new state feature")
                type(self).totals.update(self.world.rule_counts)
                type(self).label_totals.update(self.lockstep.labels)
                # Per call only the state digests were compared: end every example with full
                # snapshots and both invariants (a failure here fails the example).
                self.lockstep.finish()

    DifferentialMachine.__name__ = DifferentialMachine.__qualname__ = (
        f"Differential_{profile}_{candidate_cls.__name__}"
    )
    return DifferentialMachine
