"""One campaign round of the Hypothesis state machine, with its failure turned into a trace.

`run_round` runs the machine from `fuzz.modes.machine` under the `campaign` settings profile
(bounded to `max_examples` examples, no example database, seeded, and no shrinking, which
takes minutes on world-sized examples: `swapdiff minimize` shrinks the trace far faster) and
counts the world actions each example ran.  When Hypothesis reports a failure, the failing
example's `Lockstep.history` plus the call that diverged are the trace: it is replayed with
`fuzz.replay` to get the same divergence signature fast mode uses, and written with the
reference's results and digests, so it replays without Hypothesis.

The round stops early (between examples) when `keep_going(steps_since_last_call)` returns
False; that is how a campaign's budget and Ctrl-C reach inside Hypothesis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fuzz.lockstep import Divergence, Lockstep
from fuzz.modes.fast import EpisodeResult
from fuzz.replay import StepDivergence, make_stepper, make_trace
from fuzz.world import World


class _StopRound(BaseException):
    """Raised between examples to end a round; not an Exception, so Hypothesis lets it pass."""


class HarnessError(RuntimeError):
    """Hypothesis failed, but replaying the failing example's calls shows no divergence."""


@dataclass
class RoundResult(EpisodeResult):
    """What one Hypothesis round did and found: an episode's record plus its example count."""

    examples: int = 0


def _parts(machine: Any) -> tuple[Lockstep | None, World | None]:
    """The machine's Lockstep executor and World, found by type (names are the machine's)."""
    lockstep = world = None
    for value in vars(machine).values():
        if isinstance(value, Lockstep):
            lockstep = value
        elif isinstance(value, World):
            world = value
    if world is not None and lockstep is None and isinstance(world.executor, Lockstep):
        lockstep = world.executor
    return lockstep, world


class _Tracker:
    """Counts what every example did and remembers the last machine (the failing one)."""

    def __init__(self, result: RoundResult, keep_going: Callable[[int], bool] | None) -> None:
        self.result = result
        self.keep_going = keep_going
        self.machine: Any = None

    def finished(self, machine: Any) -> None:
        lockstep, world = _parts(machine)
        steps = sum(world.rule_counts.values()) if world is not None else 0
        result = self.result
        result.examples += 1
        result.steps += steps
        if world is not None:
            result.rules.update(world.rule_counts)
        if lockstep is not None:
            result.ops += len(lockstep.history)
            result.labels.update(lockstep.labels)
        if self.keep_going is not None and not self.keep_going(steps):
            raise _StopRound


def run_round(
    reference_cls: type,
    candidate_cls: type,
    *,
    seed: int,
    profile: str = "default",
    geometry: Any = None,
    level: str = "allocator",
    same_device: bool = True,
    max_examples: int = 20,
    keep_going: Callable[[int], bool] | None = None,
) -> RoundResult:
    """Run up to `max_examples` examples of the machine; see the module docstring."""
    from hypothesis import seed as hypothesis_seed
    from hypothesis.stateful import run_state_machine_as_test

    from fuzz.modes.machine import make_machine

    started = time.perf_counter()
    result = RoundResult(seed=seed)
    tracker = _Tracker(result, keep_going)
    base = make_machine(
        reference_cls, candidate_cls, geometry=geometry, profile=profile, level=level, same_device=same_device
    )

    class Tracked(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            tracker.machine = self

        def teardown(self) -> None:
            super().teardown()
            tracker.finished(self)

    Tracked.__name__ = Tracked.__qualname__ = f"Campaign{base.__name__}"
    hypothesis_seed(seed)(Tracked)
    try:
        run_state_machine_as_test(Tracked, settings=_settings(max_examples))
    except _StopRound:
        result.stopped = True
    except Exception as failure:
        _to_trace(
            result,
            tracker.machine,
            failure,
            reference_cls,
            candidate_cls,
            geometry,
            profile,
            level,
            same_device,
        )
    result.seconds = time.perf_counter() - started
    return result


def _settings(max_examples: int) -> Any:
    from hypothesis import HealthCheck, Phase, settings

    from fuzz.modes.hypothesis_settings import profile_settings

    return settings(
        profile_settings("campaign"),
        max_examples=max_examples,
        database=None,
        deadline=None,
        print_blob=False,
        report_multiple_bugs=False,
        # Hypothesis' own shrinking of a world-sized example takes minutes; campaigns keep the
        # failing example as it is and `swapdiff minimize` (ddmin over the calls) shrinks it.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
        suppress_health_check=list(HealthCheck),
    )


def _to_trace(
    result: RoundResult,
    machine: Any,
    failure: BaseException,
    reference_cls: type,
    candidate_cls: type,
    geometry: Any,
    profile: str,
    level: str,
    same_device: bool = True,
) -> None:
    lockstep, world = _parts(machine) if machine is not None else (None, None)
    if lockstep is None:
        raise HarnessError(
            f"the machine failed outside the lockstep executor: {_oneline(failure)}"
        ) from failure
    calls = [step.call for step in lockstep.history]
    geo = world.geometry if world is not None else geometry
    failing = getattr(failure, "call", None)
    if isinstance(failure, Divergence):
        if failing is not None and failure.step == len(calls):
            calls.append(failing)  # raised by the call itself (not by the end-of-example check)
    elif failing is not None:
        calls.append(failing)
    found: StepDivergence | None
    if isinstance(failure, Divergence) and not failure.late:
        found = failure.found  # the comparator's own finding at the call that made it
    else:
        # Seen only by a periodic full check (or not a divergence at all): find the first
        # diverging call by replaying with the full check after every call.
        kw = {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}
        stepper = make_stepper(reference_cls(**kw), candidate_cls(**kw), level=level, same_device=same_device)
        for call in calls:
            _, found = stepper.step(call)
            if found is not None:
                break
        else:
            found = stepper.finish()
            if found is None:
                raise HarnessError(
                    f"Hypothesis failed but its calls replay cleanly: {_oneline(failure)}"
                ) from failure
    result.divergence = found
    result.trace = make_trace(
        calls[: found.step + 1],
        reference_cls,
        candidate_cls,
        geometry=geo.to_dict(),
        seed=result.seed,
        profile=profile,
        mode="hypothesis",
        level=level,
        divergence=found,
        same_device=same_device,
    )


def _oneline(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}"
