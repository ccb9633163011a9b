"""Workload profiles (swarms): how often the world model runs each of its actions.

A profile is a table of weights over the world's action names; actions it does not name get
the profile's `default` weight.  The named profiles bias the workload toward what the swap
maintainers benchmark: usemem-style fill/free, kernel-build churn under a small device,
Redis-BGSAVE-style fork sharing, mixed mTHP orders, swapoff of a busy device, hibernation.
`large_order_p` is the chance that a new folio is large (order >= 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Misuse actions are cheap, and each one checks a contract error, so every profile keeps them
# at a low weight instead of zero: a profile run still proves "misuse changes nothing".
MISUSE_WEIGHT = 0.15
# Actions whose single run issues up to a few hundred calls (a dup burst drives one count to a
# boundary of the packed count field, up to 257): rare by default in every profile.
BASE_WEIGHTS: Mapping[str, float] = MappingProxyType({"dup_burst": 0.1})


@dataclass(frozen=True)
class Profile:
    name: str
    weights: Mapping[str, float] = field(default_factory=dict)
    default: float = 1.0
    large_order_p: float = 0.25

    def weight(self, action: str) -> float:
        if action in self.weights:
            return self.weights[action]
        if action in BASE_WEIGHTS:
            return BASE_WEIGHTS[action]
        if action.startswith("misuse_"):
            return MISUSE_WEIGHT
        return self.default


def _profile(name: str, *, default: float = 1.0, large_order_p: float = 0.25, **weights: float) -> Profile:
    return Profile(name, MappingProxyType(dict(weights)), default, large_order_p)


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "default": _profile(
            "default",
            exit=0.5,
            fork_fanout=0.3,
            swapon=0.3,
            swapon_invalid=0.1,
            swapoff_begin=0.3,
            swapoff_end=0.4,
            swapoff_abort=0.2,
            hib_alloc=0.5,
            pm_toggle=0.2,
            discard_work=0.2,
            reclaim_work=0.3,
        ),
        # Fill memory, push it all to swap, fault it back, free it: long runs of allocation.
        "usemem": _profile(
            "usemem",
            default=0.3,
            large_order_p=0.2,
            anon_fault_new=4,
            reclaim_full=6,
            reclaim_alloc=2,
            reclaim_unmap=2,
            reclaim_release=2,
            swapin_fault=1,
            exit=0.2,
            zap=0.6,
            fork_fanout=0.05,
            swapoff_begin=0.05,
            swapoff_end=0.1,
            swapon=0.05,
            discard_work=0.05,
        ),
        # Many short-lived processes on a small device: churn, full devices, reclaim in scan.
        "kbuild": _profile(
            "kbuild",
            default=0.4,
            large_order_p=0.1,
            anon_fault_new=3,
            fork=2,
            exit=2,
            zap=2,
            reclaim_full=3,
            reclaim_alloc=1.5,
            swapin_fault=2,
            readahead=1.5,
            free_swap=1,
            reclaim_work=0.3,
            discard_work=0.05,
            fork_fanout=0.05,
            swapoff_begin=0.05,
        ),
        # A big parent forking children that share its swapped memory (Redis BGSAVE).
        "fork": _profile(
            "fork",
            default=0.4,
            large_order_p=0.2,
            anon_fault_new=2,
            fork=3,
            fork_fanout=1.5,
            dup_burst=0.3,
            exit=2,
            reclaim_full=2,
            reclaim_unmap=1.5,
            swapin_fault=2,
            zap=1.5,
        ),
        # Mixed folio orders: fragmentation, order stealing, large-folio fallback, mTHP swap-in.
        "mthp": _profile(
            "mthp",
            default=0.4,
            large_order_p=0.6,
            anon_fault_new=3,
            reclaim_full=3,
            reclaim_alloc=2,
            reclaim_unmap=1.5,
            swapin_large=2,
            swapin_fault=1.5,
            shmem_create=1,
            shmem_writeout=1,
            shmem_swapin=1,
            zap=1.5,
            fork_fanout=0.05,
        ),
        # Swap off busy devices (unuse every entry back in) and abort half-way.
        "swapoff": _profile(
            "swapoff",
            default=0.5,
            anon_fault_new=2,
            reclaim_full=2,
            swapoff_begin=1.5,
            swapoff_unuse=1.5,
            swapoff_end=1,
            swapoff_abort=0.7,
            swapon=1,
            shmem_writeout=1,
        ),
        # Hibernation image allocation and free around a live workload.
        "hibernate": _profile(
            "hibernate",
            default=0.4,
            hib_alloc=3,
            hib_free=2,
            pm_toggle=1,
            readahead=1.5,
            reclaim_full=1.5,
            swapin_fault=1,
            flag_lock=1,
            swapoff_begin=0.3,
            swapoff_end=0.5,
        ),
    }
)


def get_profile(name: str) -> Profile:
    """The named profile; ValueError (one line, listing the names) for an unknown one."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def weights_for(name: str, actions: Iterable[str]) -> dict[str, float]:
    """The weight of every action under profile `name`, in the order of `actions`."""
    profile = get_profile(name)
    return {action: profile.weight(action) for action in actions}
