"""Allocation-policy changes that are correct: candidates the accounting level must accept.

Each subclasses the reference model and changes only where slots are placed, so at the
`allocator` level they diverge at the first allocation that places differently, and at the
`accounting` level (`fuzz/accounting.py`) they must run clean.  docs/accounting.md uses
them:

    swapdiff fuzz --impl fuzz.policy_examples:FreeClusterFirst --level accounting --time 1m
"""

from __future__ import annotations

from reference.model import ReferenceSwap


class FreeClusterFirst(ReferenceSwap):
    """The per-device slow path takes a fresh free cluster before a nonfull one (as the kernel
    does only for devices that discard pages): fewer partly used clusters for large folios to
    skip later, at the cost of touching more clusters.  Otherwise the reference's path."""

    def _cluster_alloc_swap_entry(self, si, f, order):
        if order > 0 and not si.blkdev:
            return 0
        if not si.solidstate and si.global_next[order]:
            found = self._scan_from_hint(si, si.global_next[order], f, order)
            if found:
                return found
        found = self._scan_list(si, si.free_clusters, f, order, scan_all=False)
        if found:
            return found
        if order < self.pmd_order:
            while si.nonfull_clusters[order]:
                found = self._scan_list(si, si.nonfull_clusters[order], f, order, scan_all=False)
                if found:
                    return found
        if self._vm_swap_full():
            self._swap_reclaim_full_clusters(si, force=False)
        if order < self.pmd_order:
            found = self._scan_list(si, si.frag_clusters[order], f, order, scan_all=False)
            if found:
                return found
        if order > 0:
            return 0
        for o in range(1, self.pmd_order + 1):
            for lst in (si.frag_clusters[o], si.nonfull_clusters[o]):
                found = self._scan_list(si, lst, f, order, scan_all=True)
                if found:
                    return found
        return 0


class NoPercpuHint(ReferenceSwap):
    """Every allocation takes the slow path (the per-CPU cluster hint is never used), so
    equal-priority devices are used round-robin per allocation: entries land on other devices
    than the reference's, which `--no-same-device` allows."""

    def _swap_alloc_fast(self, f, order):
        return None
