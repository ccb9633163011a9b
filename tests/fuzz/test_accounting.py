"""The accounting level (fuzz/accounting.py): entries up to renaming, and each refinement rule
tested both ways (the legitimate difference accepted, the same difference without its
justification rejected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.accounting import AccountingStepper
from fuzz.lockstep import Divergence, Lockstep
from fuzz.modes.fast import run_episode
from fuzz.modes.machine import make_machine
from fuzz.policy_examples import FreeClusterFirst, NoPercpuHint
from fuzz.replay import replay_calls, replay_trace
from fuzz.trace import read_trace
from fuzz.world import DeviceSpec, Geometry
from optimized import OptimizedSwap
from reference import ReferenceSwap
from reference.api import ENOMEM, Call, Entry
from tests.fuzz import policy_impls

ONE_DEVICE = Geometry(8, 4, (DeviceSpec(64, priority=5),))
TWO_DEVICES = Geometry(8, 4, (DeviceSpec(48, priority=5), DeviceSpec(48, priority=5)))


def _stepper(candidate_cls: type, *, same_device: bool = True) -> AccountingStepper:
    kw = {"cluster_size": 8, "max_swapfiles": 4}
    return AccountingStepper(ReferenceSwap(**kw), candidate_cls(**kw), same_device=same_device)


def _run(stepper: AccountingStepper, calls: list[Call]):
    """Run `calls`; return (results the caller saw, first divergence or None)."""
    seen = []
    for call in calls:
        ran, found = stepper.check(call)
        if found is not None:
            return seen, found
        seen.append(ran.value)
    return seen, stepper.finish()


def _c(name: str, **kwargs) -> Call:
    return Call(name, kwargs)


def _episode(
    candidate_cls: type, seed: int, *, profile: str = "default", same_device: bool = True, steps=600
):
    return run_episode(
        ReferenceSwap,
        candidate_cls,
        seed=seed,
        steps=steps,
        profile=profile,
        level="accounting",
        same_device=same_device,
    )


# ---- the three candidate classes ----


@pytest.mark.parametrize("same_device", [True, False])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("profile", ["default", "mthp", "fork"])
def test_a_correct_policy_change_passes_at_accounting(seed: int, profile: str, same_device: bool) -> None:
    result = _episode(FreeClusterFirst, seed, profile=profile, same_device=same_device)
    assert result.divergence is None, result.divergence.describe()


def test_a_correct_policy_change_fails_at_allocator() -> None:
    result = run_episode(ReferenceSwap, FreeClusterFirst, seed=0, steps=600, level="allocator")
    assert result.divergence is not None and result.divergence.kind == "state"


@pytest.mark.parametrize("same_device", [True, False])
@pytest.mark.parametrize("profile", ["default", "swapoff", "mthp"])
def test_a_policy_without_the_per_cpu_hint_passes(profile: str, same_device: bool) -> None:
    for seed in range(3):
        result = _episode(NoPercpuHint, seed, profile=profile, same_device=same_device)
        assert result.divergence is None, result.divergence.describe()


def test_a_count_lost_on_fork_under_another_policy_fails_with_the_paired_slot_diff() -> None:
    result = _episode(policy_impls.FreeFirstForkLoss, 0, profile="fork", same_device=False)
    found = result.divergence
    assert found is not None and found.kind == "state" and found.op == "swap_dup_entry_direct"
    text = found.describe()
    assert "candidate ran swap_dup_entry_direct(entry=Entry(" in text
    assert any(line.startswith("slot Entry(") and "(candidate Entry(" in line for line in found.diff)
    assert result.trace is not None and result.trace.level == "accounting"
    assert not result.trace.same_device


def test_an_entry_returned_twice_is_a_pairing_divergence() -> None:
    stepper = _stepper(policy_impls.HibernationSlotTwice)
    _, found = _run(
        stepper,
        [
            _c("swapon", size=32, priority=None),
            _c("swap_alloc_hibernation_slot", type=0),
            _c("swap_alloc_hibernation_slot", type=0),
        ],
    )
    assert found is not None and found.kind == "pairing"
    assert "already paired with logical Entry(type=0, offset=1)" in found.detail


# ---- renaming ----


def test_entries_pair_page_by_page_and_calls_are_translated() -> None:
    stepper = _stepper(FreeClusterFirst)
    seen, found = _run(
        stepper,
        [
            _c("swapon", size=40, priority=None),
            _c("folio_new", folio=1, order=0),
            _c("folio_alloc_swap", folio=1),
            _c("folio_new", folio=2, order=2),
            _c("folio_alloc_swap", folio=2),
            _c("folio_entry", folio=2),
        ],
    )
    assert found is None, found.describe()
    first = seen[-1]
    pages = [Entry(first.type, first.offset + i) for i in range(4)]
    images = [stepper.pairing.fwd[p] for p in pages]
    assert images[0] != first and images == [Entry(images[0].type, images[0].offset + i) for i in range(4)]
    seen, found = _run(
        stepper,
        [
            _c("folio_dup_swap", folio=2, page=None),
            _c("swap_cache_del_folio", folio=2, shadow=7),
            _c("swap_put_entries_direct", entry=first, nr=3),
            _c("swap_shadow", entry=pages[3]),
            _c("swap_count", entry=pages[0]),
        ],
    )
    assert found is None, found.describe()
    assert seen[-2:] == [7, 0]
    assert pages[0] not in stepper.pairing.fwd and pages[3] in stepper.pairing.fwd  # freed pairs dissolve


def test_a_put_over_pieces_is_split_and_a_rejected_put_fails_alike() -> None:
    stepper = _stepper(OptimizedSwap)
    calls = [_c("swapon", size=40, priority=None)]
    for fid in (1, 2):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
        calls += [_c("folio_dup_swap", folio=fid, page=None), _c("swap_cache_del_folio", folio=fid, shadow=0)]
    calls.append(_c("swap_put_entries_direct", entry=Entry(0, 1), nr=3))  # slot 3 is free
    _, found = _run(stepper, calls)
    assert found is None, found.describe()


# ---- refinement rule 1: a failed allocation ----


def _fragmenting_calls(large_order: int = 3) -> list[Call]:
    """Seven order-0 folios, then two whole-cluster folios: the reference fills cluster 0
    (the header's) and has clusters 1 and 2 free for them; FreeClusterFirst starts cluster 1
    and has only cluster 2."""
    calls = [_c("swapon", size=24, priority=None)]
    for fid in range(1, 8):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
    for fid in (8, 9):
        calls += [_c("folio_new", folio=fid, order=large_order), _c("folio_alloc_swap", folio=fid)]
    return [*calls, _c("folio_entry", folio=9)]


def test_a_large_allocation_may_fail_where_the_side_has_no_usable_range() -> None:
    stepper = _stepper(FreeClusterFirst)
    seen, found = _run(stepper, _fragmenting_calls())
    assert found is None, found.describe()
    assert seen[-2] == -ENOMEM and seen[-1] is None  # the world sees the common outcome
    assert stepper.forks >= 1
    assert stepper.reference.folio_entry(9) is None and stepper.candidate.folio_entry(9) is None


def test_a_large_allocation_failing_beside_a_usable_range_is_rejected() -> None:
    stepper = _stepper(policy_impls.NoLargeSwap)
    _, found = _run(stepper, _fragmenting_calls())
    assert found is not None and found.kind == "result" and found.op == "folio_alloc_swap"
    assert "but its state before the call had a usable free range at Entry(type=0, offset=8)" in found.detail


def test_the_reference_never_fails_an_allocation_the_rule_rejects() -> None:
    # Against itself the reference never forks; against a candidate that always succeeds
    # where it can, every one of the reference's own -ENOMEMs is judged by the rule.
    for seed in range(6):
        result = _episode(FreeClusterFirst, seed, profile="mthp", same_device=False, steps=800)
        assert result.divergence is None, result.divergence.describe()


# ---- refinement rule 2: a folio reclaimed by one side only ----


def _cached_count0_then_alloc(lock: bool = False, referenced: bool = False) -> list[Call]:
    calls = [
        _c("swapon", size=40, priority=None),
        _c("folio_new", folio=1, order=0),
        _c("folio_alloc_swap", folio=1),
    ]
    if referenced:
        calls.append(_c("folio_dup_swap", folio=1, page=None))
    if lock:
        calls.append(_c("folio_set", folio=1, locked=True))
    return [
        *calls,
        _c("folio_new", folio=2, order=0),
        _c("folio_alloc_swap", folio=2),
        _c("folio_entry", folio=1),
    ]


def test_an_allocation_may_reclaim_a_cached_unreferenced_folio() -> None:
    stepper = _stepper(policy_impls.EagerReclaim)
    seen, found = _run(stepper, _cached_count0_then_alloc())
    assert found is None, found.describe()
    assert seen[-1] is None and stepper.forks == 1  # the reference gave folio 1 up too


@pytest.mark.parametrize(
    ("candidate", "calls", "why"),
    [
        (
            policy_impls.ReclaimReferenced,
            _cached_count0_then_alloc(referenced=True),
            "its slots had counts [1]",
        ),
        (policy_impls.ReclaimLocked, _cached_count0_then_alloc(lock=True), "it was locked"),
    ],
)
def test_an_allocation_reclaiming_what_try_reclaim_may_not_is_rejected(candidate, calls, why) -> None:
    _, found = _run(_stepper(candidate), calls)
    assert found is not None and found.kind == "state" and found.op == "folio_alloc_swap"
    assert f"folio 1 left the candidate's swap cache, which it may not do here: {why}" in found.detail


def test_the_same_reclaim_on_a_call_that_never_reclaims_is_rejected() -> None:
    calls = [*_cached_count0_then_alloc()[:3], _c("folio_new", folio=2, order=0)]
    _, found = _run(_stepper(policy_impls.EagerReclaimOnNew), calls)
    assert found is not None and found.kind == "state" and found.op == "folio_new"
    assert any(line.startswith("slot Entry(type=0, offset=1)") for line in found.diff)


# ---- refinement rule 3: a hibernation slot ----


def test_a_hibernation_failure_beside_a_free_slot_is_rejected() -> None:
    calls = [_c("swapon", size=40, priority=None), _c("swap_alloc_hibernation_slot", type=0)]
    _, found = _run(_stepper(policy_impls.NoHibernation), calls)
    assert found is not None and found.kind == "result"
    assert (
        "the candidate found no hibernation slot on device 0, but Entry(type=0, offset=1) was free"
        in found.detail
    )


def test_a_hibernation_failure_on_a_full_device_is_accepted() -> None:
    # Two devices of one priority, entries free to move: the reference follows its per-CPU
    # hint and fills device 0, the candidate (no hint) alternates; a hibernation slot on
    # device 0 then exists on the candidate's side only.
    calls = [_c("swapon", size=5, priority=3), _c("swapon", size=5, priority=3)]
    for fid in range(1, 7):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
        calls.append(_c("folio_dup_swap", folio=fid, page=None))  # referenced: never reclaimed
    calls.append(_c("swap_alloc_hibernation_slot", type=0))
    stepper = _stepper(NoPercpuHint, same_device=False)
    seen, found = _run(stepper, calls)
    assert found is None, found.describe()
    assert stepper.forks == 1 and seen[-1] is None
    assert stepper.reference.device(0).inuse == 4 and stepper.candidate.device(0).inuse == 3
    _, strict = _run(_stepper(NoPercpuHint), calls)  # one priority: either device is the policy's
    assert strict is None, strict.describe()


# ---- refinement rule 4: the device an allocation lands on (--same-device) ----


def _two_devices(first: int, second: int, order: int = 0) -> list[Call]:
    return [
        _c("swapon", size=40, priority=first),
        _c("swapon", size=40, priority=second),
        _c("folio_new", folio=1, order=order),
        _c("folio_alloc_swap", folio=1),
        _c("folio_new", folio=2, order=order),
        _c("folio_alloc_swap", folio=2),
    ]


def test_devices_of_one_priority_may_take_turns() -> None:
    stepper = _stepper(NoPercpuHint)
    _, found = _run(stepper, _two_devices(5, 5))
    assert found is None, found.describe()
    # Placed apart: each side's device records were checked against its own slots.
    assert [stepper.reference.device(t).inuse for t in (0, 1)] == [2, 0]
    assert [stepper.candidate.device(t).inuse for t in (0, 1)] == [1, 1]


def test_a_device_miscounting_its_use_is_caught_while_entries_are_apart() -> None:
    kw = {"cluster_size": 8, "max_swapfiles": 4}
    stepper = AccountingStepper(ReferenceSwap(**kw), policy_impls.MiscountsInuse(**kw), invariants=False)
    _, found = _run(stepper, _two_devices(5, 5))
    assert found is not None and found.kind == "state"
    assert "device 1 inuse: 2 on the candidate's side, which uses 1 slots there" in found.diff


@pytest.mark.parametrize("order", [0, 2])
def test_a_device_passed_over_while_one_before_it_had_room_is_rejected(order: int) -> None:
    _, found = _run(_stepper(policy_impls.LowestPriorityFirst), _two_devices(1, 9, order))
    assert found is not None and found.kind == "pairing" and found.op == "folio_alloc_swap"
    if order == 0:
        assert "device 1 (priority 9) comes before device 0 (priority 1) and had a free slot" in found.detail
    else:
        assert "an order-2 folio tries one device of the highest priority on the avail list (9)" in (
            found.detail
        )
    _, free = _run(_stepper(policy_impls.LowestPriorityFirst, same_device=False), _two_devices(1, 9, order))
    assert free is None, free.describe()


def test_the_device_last_allocated_from_justifies_staying_there() -> None:
    # The per-CPU hint keeps the reference on device 0 after a higher-priority swapon; a
    # policy without the hint moves to device 1.  Either may be the reference.
    calls = [
        _c("swapon", size=40, priority=1),
        _c("folio_new", folio=1, order=0),
        _c("folio_alloc_swap", folio=1),
        _c("swapon", size=40, priority=9),
        _c("folio_new", folio=2, order=0),
        _c("folio_alloc_swap", folio=2),
        _c("folio_entry", folio=2),
    ]
    kw = {"cluster_size": 8, "max_swapfiles": 4}
    for reference, candidate in ((ReferenceSwap, NoPercpuHint), (NoPercpuHint, ReferenceSwap)):
        stepper = AccountingStepper(reference(**kw), candidate(**kw))
        _, found = _run(stepper, calls)
        assert found is None, found.describe()
        assert stepper.reference.folio_entry(2).type != stepper.candidate.folio_entry(2).type


def test_an_allocation_on_a_device_being_swapped_off_is_rejected() -> None:
    calls = [
        _c("swapon", size=40, priority=9),
        _c("swapon", size=40, priority=1),
        _c("folio_new", folio=1, order=0),
        _c("folio_alloc_swap", folio=1),
        _c("swapoff_begin", type=0),
        _c("folio_new", folio=2, order=0),
        _c("folio_alloc_swap", folio=2),
    ]
    for same_device in (True, False):
        _, found = _run(_stepper(policy_impls.AllocatesDuringSwapoff, same_device=same_device), calls)
        assert found is not None and found.kind == "pairing"
        assert "on device 0, which was not writable (swapoff in progress)" in found.detail
    _, found = _run(_stepper(NoPercpuHint), calls)
    assert found is None, found.describe()


def test_swapoff_unuses_the_entries_either_side_holds_on_the_device() -> None:
    kw = TWO_DEVICES.impl_kwargs()
    lockstep = Lockstep(ReferenceSwap(**kw), NoPercpuHint(**kw), level="accounting")
    for call in _two_devices(5, 5)[:2]:
        lockstep.call(call)
    for fid in (1, 2):
        lockstep.call(_c("folio_new", folio=fid, order=0))
        lockstep.call(_c("folio_alloc_swap", folio=fid))
    logical = lockstep.call(_c("folio_entry", folio=2))
    assert logical.type == 0 and lockstep.held_on(logical, 1) and not lockstep.held_on(logical, 0)
    # The world's unuse of device 1 takes folio 2 too: it is on device 1 on the candidate's side.
    for fid in (1, 2):
        lockstep.call(_c("folio_dup_swap", folio=fid, page=None))
    lockstep.call(_c("swapoff_begin", type=1))
    lockstep.call(_c("swap_cache_del_folio", folio=2, shadow=0))
    lockstep.call(_c("swap_put_entries_direct", entry=logical, nr=1))
    assert lockstep.call(_c("swapoff_end", type=1)) == 0


# ---- refinement rule 5: an order-0 scan that reclaims may stop ----


def test_an_order0_scan_may_stop_after_freeing_a_cluster_by_reclaim() -> None:
    trace = read_trace(Path(__file__).parent / "traces" / "scan-stops-after-reclaim.min.jsonl")
    outcome = replay_trace(trace, ReferenceSwap, NoPercpuHint)
    assert outcome.ok, outcome.divergence.describe()
    kw = {"cluster_size": trace.cluster_size, "max_swapfiles": trace.max_swapfiles}
    stepper = AccountingStepper(ReferenceSwap(**kw), NoPercpuHint(**kw), same_device=False)
    seen, found = _run(stepper, trace.calls)
    assert found is None and seen[-1] == -ENOMEM and stepper.forks >= 1


def _half_full_then(extra_cached: int) -> list[Call]:
    """Eight referenced entries of a 15-page device (vm_swap_full()), then `extra_cached`
    cached count-0 folios and one more order-0 allocation."""
    calls = [_c("swapon", size=16, priority=None)]
    for fid in range(1, 9):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
        calls += [_c("folio_dup_swap", folio=fid, page=None), _c("swap_cache_del_folio", folio=fid, shadow=0)]
    for fid in range(9, 9 + extra_cached):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
    return [*calls, _c("folio_new", folio=20, order=0), _c("folio_alloc_swap", folio=20)]


def test_an_order0_failure_beside_free_slots_needs_a_scan_that_may_stop() -> None:
    # The same -ENOMEM beside free slots: accepted when vm_swap_full() and a cached count-0
    # folio lies on the way (the rule's boundary: a scan may reclaim it and stop), rejected
    # when the device is not that full.
    seen, found = _run(_stepper(policy_impls.GivesUpBesideCachedSlots), _half_full_then(1))
    assert found is None and seen[-1] == -ENOMEM, found and found.describe()
    calls = _cached_count0_then_alloc()[:-1]  # one cached count-0 folio on a near-empty device
    _, found = _run(_stepper(policy_impls.GivesUpBesideCachedSlots), calls)
    assert found is not None and found.kind == "result"
    assert "returned -ENOMEM for an order-0 folio, but its state before the call had a usable" in found.detail


# ---- refinement rule 6: overflow storage of a dup ----


def test_a_dup_may_need_overflow_storage_on_one_side_only() -> None:
    # Two slots of one cluster on the reference, of two clusters on the candidate: once one
    # holds a count >= 15, the other going 14 -> 15 needs new storage on the candidate only.
    calls = [_c("swapon", size=40, priority=None)]
    for fid in (1, 2):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
    calls += [_c("folio_dup_swap", folio=1, page=None) for _ in range(15)]
    calls += [_c("folio_dup_swap", folio=2, page=None) for _ in range(14)]
    calls.append(_c("folio_dup_swap", folio=2, page=None, alloc_fails=True))

    class Spread(FreeClusterFirst):
        """Every folio takes a fresh cluster (the per-CPU hint is never used)."""

        def _swap_alloc_fast(self, f, order):
            return None

    stepper = _stepper(Spread)
    seen, found = _run(stepper, calls)
    assert found is None, found.describe()
    assert seen[-1] == -ENOMEM and stepper.forks == 1
    assert stepper.reference.swap_count(stepper.reference.folio_entry(2)) == 14

    class OverflowNeverFails(Spread):
        def folio_dup_swap(self, folio, page=None, *, alloc_fails=False):
            return super().folio_dup_swap(folio, page, alloc_fails=False)

    _, found = _run(_stepper(OverflowNeverFails), calls)
    assert found is not None and found.kind == "result"
    assert "do not need new overflow storage" in found.detail or "need new overflow" in found.detail


# ---- surfaces ----


def test_replay_and_minimize_honour_the_level(tmp_path) -> None:
    from fuzz.minimize import minimize_trace

    result = _episode(policy_impls.FreeFirstForkLoss, 0, profile="fork", same_device=False)
    trace = result.trace
    assert trace is not None
    outcome = replay_trace(trace, ReferenceSwap, policy_impls.FreeFirstForkLoss)
    assert outcome.divergence is not None and outcome.divergence.signature == result.divergence.signature
    assert not outcome.digest_drift and not outcome.result_drift
    clean = replay_trace(trace, ReferenceSwap, FreeClusterFirst)
    assert clean.ok
    small = minimize_trace(trace, ReferenceSwap, policy_impls.FreeFirstForkLoss, max_seconds=60)
    assert small.trace.level == "accounting" and len(small.trace.steps) < len(trace.steps)
    assert small.divergence.signature == result.divergence.signature


def test_the_machine_runs_at_the_accounting_level() -> None:
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    # The world may swap on a second device, and the policy may then move entries to it.
    machine = make_machine(
        ReferenceSwap, FreeClusterFirst, geometry=ONE_DEVICE, level="accounting", same_device=False
    )
    run_state_machine_as_test(
        machine, settings=settings(max_examples=5, stateful_step_count=30, deadline=None)
    )
    buggy = make_machine(
        ReferenceSwap,
        policy_impls.HibernationSlotTwice,
        geometry=ONE_DEVICE,
        profile="hibernate",
        level="accounting",
        same_device=False,
    )
    with pytest.raises(Divergence, match=r"kind: +pairing"):
        run_state_machine_as_test(
            buggy, settings=settings(max_examples=30, stateful_step_count=40, deadline=None)
        )


def test_the_lockstep_hands_the_world_logical_entries() -> None:
    kw = ONE_DEVICE.impl_kwargs()
    lockstep = Lockstep(ReferenceSwap(**kw), FreeClusterFirst(**kw), level="accounting")
    lockstep.call(_c("swapon", size=64, priority=5))
    lockstep.call(_c("folio_new", folio=1, order=0))
    assert lockstep.call(_c("folio_alloc_swap", folio=1)) == 0
    assert lockstep.call(_c("folio_entry", folio=1)) == Entry(0, 1)  # the reference's name
    assert lockstep.candidate.folio_entry(1) != Entry(0, 1)


def test_the_batch_check_is_refused_at_the_accounting_level() -> None:
    with pytest.raises(ValueError, match="op by op"):
        run_episode(ReferenceSwap, OptimizedSwap, seed=0, steps=10, level="accounting", per_op_state=False)


def test_replay_at_accounting_of_same_placement_is_clean() -> None:
    kw = {"cluster_size": 8, "max_swapfiles": 4}
    result = run_episode(ReferenceSwap, OptimizedSwap, seed=3, steps=400, level="accounting")
    assert result.divergence is None
    outcome = replay_calls(
        [_c("swapon", size=40, priority=None)], ReferenceSwap(**kw), OptimizedSwap(**kw), level="accounting"
    )
    assert outcome.ok


def test_a_full_device_back_on_avail_on_one_side_only_is_accepted() -> None:
    # swapoff_abort put device 2 back on the reference's avail list full; the candidate,
    # placing differently, filled it later by allocation, which takes it off.
    trace = read_trace(Path(__file__).parent / "traces" / "full-device-back-on-avail.min.jsonl")
    outcome = replay_trace(trace, ReferenceSwap, FreeClusterFirst)
    assert outcome.ok, outcome.divergence.describe()


def test_a_full_device_left_on_avail_by_swapoff_is_rejected() -> None:
    kw = {"cluster_size": 8, "max_swapfiles": 2}
    stepper = AccountingStepper(
        ReferenceSwap(**kw), policy_impls.FullDeviceStaysOnAvail(**kw), invariants=False
    )
    calls = [_c("swapon", size=8, priority=None)]
    for fid in range(1, 8):
        calls += [_c("folio_new", folio=fid, order=0), _c("folio_alloc_swap", folio=fid)]
    _, found = _run(stepper, [*calls, _c("swapoff_begin", type=0)])
    assert found is not None and found.kind == "state" and found.op == "swapoff_begin"
    # The relaxation covers writable devices only: a full device being swapped off is compared.
    assert found.diff == ["device 0 on_avail: False != True"]


def _hint_then_higher_device(solidstate: bool) -> list[Call]:
    """One allocation on a priority-0 device, then a priority-5 solid-state device swapped on
    and another allocation."""
    return [
        _c("swapon", size=40, priority=0, solidstate=solidstate),
        _c("folio_new", folio=1, order=0),
        _c("folio_alloc_swap", folio=1),
        _c("swapon", size=40, priority=5),
        _c("folio_new", folio=2, order=0),
        _c("folio_alloc_swap", folio=2),
    ]


def test_the_fast_path_may_return_to_the_solid_state_device_it_last_used() -> None:
    # NoPercpuHint, as the reference side, walks to the new device; the kernel's rules (here
    # the candidate) go back to device 0 through the per-CPU hint: a reason of its own.
    kw = {"cluster_size": 8, "max_swapfiles": 4}
    stepper = AccountingStepper(NoPercpuHint(**kw), ReferenceSwap(**kw))
    _, found = _run(stepper, _hint_then_higher_device(solidstate=True))
    assert found is None, found.describe()
    assert stepper.reference.folio_entry(2).type == 1 and stepper.candidate.folio_entry(2).type == 0


def test_a_rotational_device_is_not_the_per_cpu_hints_device() -> None:
    # (Its own check_invariants() would say so at once; the placement rule must too.)
    kw = {"cluster_size": 8, "max_swapfiles": 4}
    stepper = AccountingStepper(
        ReferenceSwap(**kw), policy_impls.RotationalHintAsPercpu(**kw), invariants=False
    )
    _, found = _run(stepper, _hint_then_higher_device(solidstate=False))
    assert found is not None and found.kind == "pairing" and found.op == "folio_alloc_swap"
    assert "device 1 (priority 5) comes before device 0 (priority 0)" in found.detail
