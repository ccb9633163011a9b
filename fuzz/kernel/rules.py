"""Kernel rule sets: what each Linux release decides outside the swap API, one table per release.

The kernel lane's world (`world.ModelWorld`) translates lane actions into reference calls the
way mm/ calls the swap layer; where releases differ in that translation, the world consults the
`KernelRules` of the release it faces, never the release number itself.  The rules are facts
read from mm/ at the release's tag (reference/MODEL.md "Behaviour by release" has the evidence
traces; docs/kernel-releases.md how a rule set is chosen).

Fault-time freeing of a count-0 swap-cache slot (do_swap_page's should_try_to_free_swap, then
do_wp_page's wp_can_reuse_anon_folio) is decided in every release by conditions the world
follows: whether the fault is a write fault (FAULT_FLAG_WRITE: a store to a swapped page; a
load-then-store faults as a read and then, if the pte is read-only, as a write-protect fault),
whether the swap pte carried the exclusive marker (pte_swp_exclusive: set by try_to_unmap for
a PageAnonExclusive page, cleared by fork), the slot's swap count, and the folio's references.
The lane keeps the last predictable: only the faulting process maps the folio, and it drains
every CPU's LRU batches before each store.  The conditions that are not followed are bounded
in docs/kernel-releases.md (vm_swap_full, mlock, SWP_SYNCHRONOUS_IO devices, transient
references taken by other kernel code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelRules:
    """The release-dependent rules of the lane's translation."""

    name: str  # the rule set's name: a kernel major.minor
    # A write fault on a swap pte with the exclusive marker, whose slot count drops to 0, frees
    # the slot (folio_free_swap) before returning.  6.18: should_try_to_free_swap runs before the
    # folio is mapped and sees the refcount of the cache and the fault only.  7.0-7.2 ("mm, swap:
    # free the swap cache after folio is mapped", swap table phase II): it runs after mapping,
    # when mapping an exclusive page writable has already cleared FAULT_FLAG_WRITE, so the slot
    # stays cached.  7.3: the check tests the exclusive marker instead of the refcount.
    write_fault_frees_exclusive: bool
    # The facts of the release that are not swap-API semantics (printed, recorded in traces).
    summary: str


_COMMON = (
    "MADV_PAGEOUT skips shared folios and leaves written folios in the swap cache; a read fault "
    "never frees its slot and maps an exclusive page writable; a write-protect fault on a page "
    "only this process maps frees its count-0 slot and reuses the folio, else copies it; an mTHP "
    "write fault on an empty aligned block maps one folio of the order; a failed large "
    "folio_alloc_swap splits (head, then tails last to first); a fault on a cached large folio "
    "maps it whole, other swap-ins are order 0; a shmem read fault faults around (16 aligned "
    "pages, cached folios only); a clean shmem folio is dropped, not swapped, by MADV_PAGEOUT; "
    "shmem swap-in leaves the folio dirty"
)

RULES: dict[str, KernelRules] = {
    "6.18": KernelRules(
        name="6.18",
        write_fault_frees_exclusive=True,
        summary="swap_map with SWAP_HAS_CACHE; a write fault frees a count-0 slot before mapping "
        "(refcount check); " + _COMMON,
    ),
    "7.2": KernelRules(
        name="7.2",
        write_fault_frees_exclusive=False,
        summary="swap table (phases I-III); a write fault on an exclusive swap pte keeps its count-0 "
        "slot cached (FAULT_FLAG_WRITE cleared before the after-mapping free check); " + _COMMON,
    ),
    "7.3": KernelRules(
        name="7.3",
        write_fault_frees_exclusive=True,
        summary="swap table (phases I-III and later); a write fault frees a count-0 slot when the "
        "swap pte was exclusive (no refcount check); " + _COMMON,
    ),
}


def rules_for_release(release: str) -> KernelRules | None:
    """The rule set of a `uname -r` release string (its major.minor), or None if unknown."""
    m = re.match(r"(\d+)\.(\d+)(?!\d)", release)
    return RULES.get(f"{m[1]}.{m[2]}") if m else None


def version_key(text: str) -> tuple[int, ...]:
    """(major, minor, ...) of a release or rule-set name, for ordering ("7.3.4+deb13" -> (7, 3, 4))."""
    nums = []
    for part in text.split("-", 1)[0].split("+", 1)[0].split("."):
        if not part.isdigit():
            break
        nums.append(int(part))
    return tuple(nums)


def closest_rule_set(release: str, known: Iterable[str] = RULES) -> str:
    """The newest rule set in `known` not newer than `release` (the oldest if all are newer):
    what to suggest, or run with explicitly, on a release that has no rule set of its own."""
    ordered = sorted(known, key=version_key)
    older = [name for name in ordered if version_key(name) <= version_key(release)]
    return older[-1] if older else ordered[0]
