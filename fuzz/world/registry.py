"""The action registry: `@action(when=condition)` on World methods, and the named conditions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fuzz.choosers import Chooser
from fuzz.world.state import (
    MAX_PROCESSES,
    Summary,
)

if TYPE_CHECKING:
    from fuzz.world.model import World


# An action is a World method registered with `@action(when=condition)`, the way Hypothesis
# pairs `@rule` with `@precondition`: adding one is a one-place change.  A condition is a
# named predicate over the world and its per-step `Summary`; all of them are evaluated once
# per step, and the tuple of their values keys the world's cache of weight tables.

Condition = Callable[["World", Summary], bool]
CONDITIONS: dict[str, Condition] = {}


@dataclass(frozen=True)
class ActionSpec:
    """One registered action: its name, the method that runs it and when it is enabled."""

    name: str
    run: Callable[[World, Chooser], bool]
    when: Condition


ACTIONS: dict[str, ActionSpec] = {}


def condition(fn: Condition) -> Condition:
    """Register `fn` as the condition named after it."""
    if fn.__name__ in CONDITIONS:
        raise ValueError(f"condition {fn.__name__!r} registered twice")
    CONDITIONS[fn.__name__] = fn
    return fn


def action(
    *, when: Condition
) -> Callable[[Callable[[World, Chooser], bool]], Callable[[World, Chooser], bool]]:
    """Register a `World._act_<name>` method as the action `<name>`, enabled when `when` holds.

    The method returns whether it did something (False: it found nothing to act on).
    Registration order is pick order."""
    if CONDITIONS.get(when.__name__) is not when:
        raise ValueError(f"{when.__name__!r} is not a registered condition")

    def register(fn: Callable[[World, Chooser], bool]) -> Callable[[World, Chooser], bool]:
        name = fn.__name__.removeprefix("_act_")
        if name == fn.__name__ or name in ACTIONS:
            raise ValueError(f"{fn.__name__}: an action method is named _act_<unique name>")
        ACTIONS[name] = ActionSpec(name, fn, when)
        return fn

    return register


@condition
def always(w: World, s: Summary) -> bool:
    return True


@condition
def room(w: World, s: Summary) -> bool:
    return w.live_pages < w.page_budget


@condition
def processes(w: World, s: Summary) -> bool:
    return bool(w.processes)


@condition
def can_fork(w: World, s: Summary) -> bool:
    return 0 < len(w.processes) < MAX_PROCESSES


@condition
def can_fanout(w: World, s: Summary) -> bool:
    return s.swap_ptes > 0 and len(w.processes) < MAX_PROCESSES


@condition
def uncached_mapped(w: World, s: Summary) -> bool:
    return s.uncached_mapped > 0


@condition
def cached_mapped(w: World, s: Summary) -> bool:
    return s.cached_mapped > 0


@condition
def startable(w: World, s: Summary) -> bool:
    return s.cached_unlocked > s.writeback


@condition
def writeback(w: World, s: Summary) -> bool:
    return s.writeback > 0


@condition
def releasable(w: World, s: Summary) -> bool:
    return s.releasable > 0


@condition
def cached_unlocked(w: World, s: Summary) -> bool:
    return s.cached_unlocked > 0


@condition
def swap_ptes(w: World, s: Summary) -> bool:
    return s.swap_ptes > 0


@condition
def large_swap_ptes(w: World, s: Summary) -> bool:
    return s.swap_ptes > 0 and w.pmd_order > 0


@condition
def shmem_folio(w: World, s: Summary) -> bool:
    return s.shmem_folio > 0


@condition
def shmem_swap(w: World, s: Summary) -> bool:
    return s.shmem_swap > 0


@condition
def shmem(w: World, s: Summary) -> bool:
    return bool(w.shmem)


@condition
def hib_room(w: World, s: Summary) -> bool:
    return len(w.hib) < 64


@condition
def hib(w: World, s: Summary) -> bool:
    return bool(w.hib)


@condition
def devices(w: World, s: Summary) -> bool:
    return bool(w.devices)


@condition
def active_device(w: World, s: Summary) -> bool:
    return any(not d.swapping_off for d in w.devices.values())


@condition
def swapping_off(w: World, s: Summary) -> bool:
    return any(d.swapping_off for d in w.devices.values())


@condition
def locked(w: World, s: Summary) -> bool:
    return s.locked > 0


@condition
def uncached(w: World, s: Summary) -> bool:
    return s.uncached > 0


@condition
def cached(w: World, s: Summary) -> bool:
    return s.cached > 0


@condition
def hib_misuse(w: World, s: Summary) -> bool:
    return bool(w.hib_freed) or s.swap_ptes > 0
