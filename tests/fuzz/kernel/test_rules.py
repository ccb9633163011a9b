"""Kernel rule sets: which release picks which rules, and the fault-time freeing each predicts."""

from __future__ import annotations

import pytest

from fuzz.kernel.rules import RULES, rules_for_release
from fuzz.kernel.world import HELPER, ModelWorld


@pytest.mark.parametrize(
    ("release", "name"),
    [
        ("6.18.44-fc-v1098", "6.18"),
        ("6.18.15+deb13-amd64", "6.18"),
        ("6.18-rc1", "6.18"),
        ("7.2.13+deb14-amd64", "7.2"),
        ("7.3.4+deb13-amd64", "7.3"),
        ("7.3.4", "7.3"),
        ("7.0.2", None),
        ("7.30.1", None),
        ("16.18.1", None),
        ("6.180", None),
        ("linux", None),
    ],
)
def test_a_release_picks_the_rules_of_its_major_minor(release: str, name: str | None) -> None:
    rules = rules_for_release(release)
    assert (rules.name if rules else None) == name


def _world(semantics: str) -> ModelWorld:
    w = ModelWorld(4, rules=RULES[semantics], shm_pages=0)
    assert w.swapon(1024, 5, bad=[], solidstate=False, blkdev=False, discard="none") == 0
    w.pageout(0, 4)
    assert w.inuse(0) == 4
    return w


@pytest.mark.parametrize(("semantics", "used"), [("6.18", 3), ("7.2", 4), ("7.3", 3)])
def test_a_write_fault_on_an_exclusive_swap_pte_frees_by_release(semantics: str, used: int) -> None:
    w = _world(semantics)
    w.store(0)
    assert (w.inuse(0), w.fault_frees, w.swap_cached_pages()) == (used, 4 - used, used)
    assert w.procs[HELPER][0][0] == "r" and w.reads == 0
    w.ref.check_invariants()


@pytest.mark.parametrize("semantics", sorted(RULES))
def test_a_load_then_store_on_an_exclusive_swap_pte_frees_nothing(semantics: str) -> None:
    w = _world(semantics)
    w.fault(1, write=True)
    w.fault(2, write=False)
    w.store(2)  # the read fault mapped it writable: the store does not fault
    assert (w.inuse(0), w.fault_frees) == (4, 0)


@pytest.mark.parametrize("semantics", sorted(RULES))
def test_after_fork_a_write_frees_once_the_child_is_gone_and_copies_while_it_lives(semantics: str) -> None:
    w = _world(semantics)
    w.fork(1)
    w.store(0)  # the child still holds the slot: do_wp_page copies
    assert (w.inuse(0), w.fault_frees) == (4, 0) and w.procs["1"][0][0] == "s"
    w.child_exit(1)
    assert w.inuse(0) == 3  # the copy left the old folio unmapped: its slot went with the child's
    w.store(1)  # no exclusive marker since the fork: freed in every release
    w.fault(2, write=True)  # read fault maps it read-only, the store's wp fault reuses it
    assert (w.inuse(0), w.fault_frees) == (1, 2)
    w.pageout(0, 4)
    assert w.inuse(0) == 4
    w.ref.check_invariants()


@pytest.mark.parametrize("semantics", sorted(RULES))
def test_with_more_than_half_of_swap_used_even_a_read_fault_frees(semantics: str) -> None:
    w = ModelWorld(8, rules=RULES[semantics], shm_pages=0)
    assert w.swapon(16, 5, bad=[], solidstate=False, blkdev=False, discard="none") == 0
    w.pageout(0, 8)  # 8 of the 15 usable slots: vm_swap_full
    w.fault(0, write=False)
    assert (w.inuse(0), w.fault_frees, w.swap_cached_pages()) == (7, 1, 7)
    w.ref.check_invariants()
