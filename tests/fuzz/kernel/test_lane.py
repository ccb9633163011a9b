"""The kernel lane's comparison: deterministic kernel facts, agreement runs, divergence traces."""

from __future__ import annotations

import mmap
import os
import random
import time
from collections import Counter

import pytest

from fuzz.cli import main
from fuzz.cli.bench.lane import lane_row
from fuzz.kernel import device
from fuzz.kernel import lane as lane_module
from fuzz.kernel.device import KernelHost, KernelUnavailable, proc_swaps
from fuzz.kernel.driver import MADV_PAGEOUT, probe_pageout
from fuzz.kernel.lane import (
    SHM_OPS,
    KernelDivergence,
    Lane,
    draw_action,
    fill_guard,
    random_action,
    run_lane,
)
from fuzz.kernel.recorded import model_step
from fuzz.kernel.snapshot import SNAPSHOT
from fuzz.kernel.trace import (
    EXTRA_DEVICE_PAGES,
    TRACE_KEY,
    check_actions,
    read_kernel_trace,
    write_kernel_trace,
)
from fuzz.kernel.world import ModelWorld
from reference.api import vm_swap_full

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def test_pageout_offsets_in_address_order(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 64)
        try:
            lane.step({"op": "pageout", "start": 0, "n": 64})
            entries = lane.helper.entries()["helper"]
            assert entries == [(lane.ktype(0), off) for off in range(1, 65)]
            assert lane._row(0)["used"] == 64 * 4
            lane.step({"op": "zap", "start": 0, "n": 64})
            assert lane._row(0)["used"] == 0
        finally:
            lane.close()


def test_fork_shares_entries_and_exit_puts_them(kernel_host_ok) -> None:
    actions = [
        {"op": "pageout", "start": 0, "n": 8},
        {"op": "fork", "child": 1},
        {"op": "zap", "start": 0, "n": 8},
    ]
    with KernelHost() as host:
        lane = Lane(host, 16)
        try:
            for a in actions:
                lane.step(a)
            assert lane._row(0)["used"] == 8 * 4  # the child still holds every entry
            assert lane.helper.entries()["1"][:8] == [(lane.ktype(0), off) for off in range(1, 9)]
            lane.step({"op": "child_exit", "child": 1})
            assert lane._row(0)["used"] == 0
        finally:
            lane.close()


def test_written_back_folio_stays_in_swap_cache_until_faulted_and_paged_out_clean(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 4)
        try:
            lane.step({"op": "pageout", "start": 0, "n": 2})
            assert lane.helper.residency()["helper"]["anon"] == [1, 1, 1, 1]  # both still cached
            assert (lane.world.reads, lane.world.writes) == (0, 2)
            lane.step({"op": "read", "page": 0})  # maps the cached folio: no read I/O
            lane.step({"op": "pageout", "start": 0, "n": 1})  # clean: reclaimed, not written
            assert lane.helper.residency()["helper"]["anon"][0] == 0
            assert (lane.world.reads, lane.world.writes) == (0, 2)
            lane.step({"op": "read", "page": 0})  # now it is read back from the device
            assert lane.world.reads == 1
        finally:
            lane.close()


def test_model_that_drops_the_cache_at_pageout_is_caught_by_mincore(kernel_host_ok, monkeypatch) -> None:
    real = ModelWorld.pageout

    def eager_reclaim(self: ModelWorld, start: int, n: int) -> None:
        real(self, start, n)
        for st in self.procs["helper"][start : start + n]:
            if st is not None and st[0] == "s" and self.cached(st[1]):
                self.ref.swap_cache_del_folio(self.ref.swap_cache_folio(st[1]))

    monkeypatch.setattr(ModelWorld, "pageout", eager_reclaim)
    with KernelHost() as host:
        lane = Lane(host, 4)
        try:
            with pytest.raises(KernelDivergence, match="mincore 1, model 0"):
                lane.step({"op": "pageout", "start": 0, "n": 1})
        finally:
            lane.close()


def test_another_tasks_swap_out_is_reported_not_absorbed(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 4)
        try:
            lane.step({"op": "pageout", "start": 0, "n": 1})
            pid = os.fork()
            if pid == 0:  # a foreign task: one page of its own out to the lane's device
                m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
                m[0] = 1
                m.madvise(MADV_PAGEOUT, 0, 4096)
                os._exit(0)
            os.waitpid(pid, 0)
            with pytest.raises(KernelDivergence, match=r"pswpout 2.*writes 1.*another task"):
                lane.compare()
        finally:
            lane.close()


@pytest.mark.parametrize("seed", [2, 5])
def test_random_run_agrees(kernel_host_ok, seed: int) -> None:
    result = run_lane(seed=seed, steps=1500)
    assert result.divergence is None
    assert result.steps == 1500
    assert proc_swaps() == []


def test_the_time_budget_starts_once_the_lane_holds_the_host(kernel_host_ok, monkeypatch) -> None:
    """Waiting for the host (another run's lock, QEMU guests holding the hugepage lock against an
    --mthp run) and the setup do not spend the budget: a 2 s wait before a 1 s run still runs."""
    enter = KernelHost.__enter__

    def slow_enter(self: KernelHost) -> KernelHost:
        time.sleep(2.0)
        return enter(self)

    monkeypatch.setattr(KernelHost, "__enter__", slow_enter)
    result = run_lane(seed=1, seconds=1.0, shm_pages=0, hib_share=0.0)
    assert result.divergence is None and result.steps > 0
    assert result.seconds >= 1.0  # the budget was spent on steps


def test_divergence_writes_replayable_trace(kernel_host_ok, tmp_path, monkeypatch) -> None:
    def no_dup_pageout(self: ModelWorld, start: int, n: int) -> None:  # a model bug: no pte dup
        for p in range(start, start + n):
            st = self.procs["helper"][p]
            if st is not None and st[0] == "r" and self.maps[st[1]] == {"helper"}:
                f = st[1]
                self.ref.folio_alloc_swap(f)
                entry = self.ref.folio_entry(f)
                self.ref.swap_cache_del_folio(f)
                self.ref.folio_set(f, mapped=False)
                self.ref.folio_drop(f)
                del self.maps[f]
                self.procs["helper"][p] = ("s", entry)

    monkeypatch.setattr(ModelWorld, "pageout", no_dup_pageout)
    result = run_lane(seed=0, steps=50, npages=16, out=tmp_path)
    assert result.divergence is not None and "pageout" in result.divergence
    header, actions = read_kernel_trace(result.trace_path)
    assert header[TRACE_KEY] == 1 and header["kernel"] and header["settings"]["vm.page-cluster"] == 0
    assert actions[-1]["op"] == "pageout"
    assert main(["kernel", "--replay", result.trace_path]) == 1
    monkeypatch.undo()
    assert main(["kernel", "--replay", result.trace_path]) == 0


def test_cli_runs_and_agrees(kernel_host_ok, capsys) -> None:
    assert main(["kernel", "--steps", "100", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "Linux" in out and "100 steps" in out


def test_bench_lane_row_measures_a_host_run(kernel_host_ok) -> None:
    """`swapdiff bench`'s host lane row: the lane's own steps and seconds, and its CPU time."""
    row = lane_row(steps=30, seed=2)
    assert row["exit"] == 0 and row["name"] == "lane_steps_per_s" and row["steps"] == 30
    assert row["value"] == pytest.approx(30 / row["seconds"]) and row["cpu_s"] > 0


def test_cli_not_root_exits_2(monkeypatch, capsys) -> None:
    monkeypatch.setattr(device.os, "geteuid", lambda: 1000)
    assert main(["kernel", "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "needs root" in err and len(err.strip().splitlines()) == 1


def test_higher_priority_device_takes_the_next_pageout(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 8)
        try:
            lane.step({"op": "pageout", "start": 0, "n": 2})
            lane.step({"op": "swapon", "priority": 9, "blkdev": False, "bad": [], "discard": "none"})
            lane.step({"op": "pageout", "start": 2, "n": 2})
            entries = lane.helper.entries()["helper"]
            assert entries[:4] == [
                (lane.ktype(0), 1),
                (lane.ktype(0), 2),
                (lane.ktype(1), 1),
                (lane.ktype(1), 2),
            ]
            assert lane._row(1)["priority"] == 9 and lane._row(1)["used"] == 2 * 4
        finally:
            lane.close()


def test_swapoff_brings_every_page_back_in_every_process(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 8)
        try:
            lane.step({"op": "pageout", "start": 0, "n": 6})
            lane.step({"op": "fork", "child": 1})  # the child shares all six entries
            lane.step({"op": "read", "page": 0})  # one page back (cached folio, mapped)
            lane.step({"op": "swapoff", "type": 0})
            entries = lane.helper.entries()
            assert entries["helper"] == [None] * 8 and entries["1"] == [None] * 8
            residency = lane.helper.residency()
            assert residency["helper"]["anon"] == residency["1"]["anon"] == [1] * 8
            assert proc_swaps() == []
            # Written-back folios were still cached: the whole swapoff read nothing.
            assert lane.world.reads == 0
            lane.step({"op": "child_exit", "child": 1})  # shared folios are not paged out
            lane.step(
                {"op": "swapon", "priority": 5, "blkdev": False, "bad": [], "discard": "none"}
            )  # type 0 again: the first free one
            lane.step({"op": "pageout", "start": 6, "n": 2})
            assert lane.helper.entries()["helper"][6:] == [(lane.ktype(0), 1), (lane.ktype(0), 2)]
        finally:
            lane.close()


def test_random_run_with_devices_coming_and_going_agrees(kernel_host_ok) -> None:
    result = run_lane(seed=3, steps=600)
    assert result.divergence is None
    assert proc_swaps() == []


def test_block_device_with_bad_pages_skips_them_and_a_swap_file_listing_them_is_refused(
    kernel_host_ok,
) -> None:
    with KernelHost() as host:
        lane = Lane(host, 8)
        try:
            lane.step({"op": "swapoff", "type": 0})
            lane.step({"op": "swapon", "priority": 5, "blkdev": True, "bad": [2, 3], "discard": "once"})
            assert lane.devices[0].path.name.startswith("loop")
            assert lane._row(0)["size"] == (1024 - 1 - 2) * 4 and lane._row(0)["kind"] == "partition"
            lane.step({"op": "pageout", "start": 0, "n": 3})
            assert lane.helper.entries()["helper"][:3] == [(lane.ktype(0), off) for off in (1, 4, 5)]
            lane.step(
                {"op": "swapon", "priority": 9, "blkdev": False, "bad": [7], "discard": "none"}
            )  # EINVAL on both
            assert sorted(lane.devices) == [0] and len(proc_swaps()) == 1
        finally:
            lane.close()
    assert proc_swaps() == []


def test_shmem_pages_swap_through_the_file_not_the_ptes(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 4, shm_pages=4)
        try:
            lane.step({"op": "spageout", "start": 0, "n": 2})
            assert lane._row(0)["used"] == 2 * 4  # the memfd holds both entries
            assert [kent for kent, _ in lane.helper.shm_ptes()["helper"]] == [None] * 4  # no pte does
            assert lane.helper.residency()["helper"]["shm"] == [1, 1, 1, 1]  # still cached
            lane.step({"op": "sread", "page": 0})  # shmem frees the slot at swap-in
            assert lane._row(0)["used"] == 1 * 4 and lane.world.reads == 0
            lane.step({"op": "spunch", "start": 1, "n": 1})  # the hole frees the other one
            assert lane._row(0)["used"] == 0
            assert lane.helper.residency()["helper"]["shm"] == [1, 0, 1, 1]
            lane.step({"op": "spageout", "start": 2, "n": 2})
            lane.step({"op": "fork", "child": 1})  # the child maps the memfd: no ptes, same file
            assert lane.helper.residency()["1"]["shm"] == [1, 0, 1, 1]
            lane.step({"op": "swapoff", "type": 0})  # shmem_unuse: back to the page cache
            assert proc_swaps() == [] and [present for _, present in lane.helper.shm_ptes()["helper"]] == [
                True,
                False,
                False,
                False,
            ]
        finally:
            lane.close()


# ---- shmem: the 6.18 facts random runs expose (reference/MODEL.md) ----


def _present(lane: Lane) -> list[int]:
    return [p for p, (_, present) in enumerate(lane.helper.shm_ptes()["helper"]) if present]


def test_a_shmem_read_fault_maps_the_cached_pages_of_its_window_not_the_swapped_ones(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 4, shm_pages=40)
        try:
            lane.step({"op": "spageout", "start": 3, "n": 2})
            lane.step({"op": "szap", "start": 0, "n": 40})
            assert _present(lane) == []
            lane.step({"op": "sread", "page": 5})  # fault-around over [0, 16)
            assert _present(lane) == [0, 1, 2, *range(5, 16)]
            assert lane._row(0)["used"] == 2 * 4 and lane.world.reads == 0  # 3 and 4 stay swapped
            lane.step({"op": "sread", "page": 33})  # [32, 48) clipped to the mapping
            assert _present(lane) == [0, 1, 2, *range(5, 16), *range(32, 40)]
        finally:
            lane.close()


def test_a_model_without_fault_around_is_caught_by_the_pte_comparison(kernel_host_ok, monkeypatch) -> None:
    monkeypatch.setattr(ModelWorld, "_fault_around", lambda self, p: None)
    with KernelHost() as host:
        lane = Lane(host, 4, shm_pages=16)
        try:
            lane.step({"op": "szap", "start": 0, "n": 16})
            with pytest.raises(KernelDivergence, match="shmem page 0: kernel pte entry None present True"):
                lane.step({"op": "sread", "page": 1})
        finally:
            lane.close()


def test_a_shmem_store_is_one_write_fault_without_fault_around(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 4, shm_pages=32)
        try:
            lane.step({"op": "szap", "start": 0, "n": 32})
            lane.step({"op": "swrite", "page": 5})
            lane.step({"op": "spunch", "start": 20, "n": 1})
            lane.step({"op": "swrite", "page": 20})  # a hole: allocated, written
            assert _present(lane) == [5, 20]
            lane.step({"op": "spageout", "start": 0, "n": 32})
            assert lane._row(0)["used"] == 2 * 4 and lane.world.writes == 2
        finally:
            lane.close()


def test_a_clean_shmem_folio_is_dropped_by_pageout_and_a_swapped_in_one_written_again(kernel_host_ok) -> None:
    with KernelHost() as host:
        lane = Lane(host, 4, shm_pages=8)
        try:
            lane.step({"op": "spunch", "start": 5, "n": 1})
            lane.step({"op": "sread", "page": 5})  # a hole's read fault: a zero-filled clean folio
            lane.step({"op": "spageout", "start": 5, "n": 1})  # dropped, not swapped
            assert lane._row(0)["used"] == 0 and lane.world.writes == 0
            assert lane.helper.residency()["helper"]["shm"][5] == 0  # a hole again
            lane.step({"op": "swrite", "page": 5})
            lane.step({"op": "spageout", "start": 5, "n": 1})  # dirty: written
            lane.step({"op": "sread", "page": 5})  # from the swap cache, slot freed, folio dirty
            lane.step({"op": "spageout", "start": 5, "n": 1})  # written again
            assert lane._row(0)["used"] == 4 and (lane.world.reads, lane.world.writes) == (0, 2)
        finally:
            lane.close()


def test_random_actions_drive_every_shmem_op_deterministically() -> None:
    def actions(seed: int, shm_pages: int) -> list[dict]:
        rng, world = random.Random(seed), ModelWorld(64, shm_pages=shm_pages)
        return [random_action(rng, world, 1, [0]) for _ in range(4000)]

    ops = Counter(a["op"] for a in actions(9, 32))
    shm = sum(ops[op] for op in SHM_OPS)
    assert all(ops[op] > 0 for op in SHM_OPS) and 0.12 < shm / 4000 < 0.18
    assert actions(9, 32) == actions(9, 32)
    assert not any(a["op"] in SHM_OPS for a in actions(9, 0))


def test_random_run_with_shmem_agrees(kernel_host_ok) -> None:
    result = run_lane(seed=4, steps=1500, shm_pages=32)
    assert result.divergence is None and result.steps == 1500
    assert all(result.ops.get(op, 0) > 0 for op in SHM_OPS)
    assert result.shm_events["fault_around"] > 0
    assert proc_swaps() == []


def test_a_kernel_that_hides_swap_entries_is_unavailable_not_divergent(kernel_host_ok, monkeypatch) -> None:
    monkeypatch.setattr(lane_module, "probe_pageout", lambda: "MADV_PAGEOUT did not show a swap entry")
    with pytest.raises(KernelUnavailable, match="did not show a swap entry"):
        run_lane(steps=5)
    assert proc_swaps() == []


def test_the_probe_passes_here_and_leaves_no_device(kernel_host_ok) -> None:
    with KernelHost() as host:
        path = host.add_device(512)
        try:
            assert probe_pageout() is None
        finally:
            host.remove_device(path)
    assert proc_swaps() == []


# ---- large folios (mTHP 64K: order 4, 16 pages) ----

MTHP_KB = 64
NR = 16


@pytest.fixture
def mthp_ok(kernel_host_ok) -> None:
    try:
        device.mthp_order(MTHP_KB)
    except KernelUnavailable as err:
        pytest.skip(str(err))


def _large_lane(host: KernelHost, folios: int, npages: int = 8) -> Lane:
    return Lane(host, npages, shm_pages=0, large_folios=folios)


def _block_entries(lane: Lane, type: int, offsets: list[int]) -> list[tuple[int, int]]:
    return [(lane.ktype(type), off) for off in offsets]


def test_mthp_fault_maps_one_folio_per_aligned_block(mthp_ok) -> None:
    with KernelHost(mthp_kb=MTHP_KB) as host:
        lane = _large_lane(host, 2)
        try:
            entries, kinds = lane.helper.large_pages()
            assert entries == [None] * 2 * NR
            assert [k[0] for k in kinds] == (["head"] + ["tail"] * (NR - 1)) * 2
            assert [k[1] - kinds[0][1] for k in kinds[:NR]] == list(range(NR))  # one contiguous folio
            assert lane.world.mthp["anon_fault_alloc"] == 2
        finally:
            lane.close()


def test_mthp_counters_agree_at_the_first_compare_before_any_action(mthp_ok) -> None:
    """The helper's interpreter starts while the lane sets up; its large region's faults must
    be counted before the first observation reads the per-size counters."""
    with KernelHost(mthp_kb=MTHP_KB) as host:
        lane = _large_lane(host, 2)
        try:
            lane.compare()
            assert lane.world.mthp["anon_fault_alloc"] == 2
        finally:
            lane.close()


def test_whole_folio_pageout_takes_one_aligned_range_of_a_free_cluster(mthp_ok) -> None:
    with KernelHost(mthp_kb=MTHP_KB) as host:
        lane = _large_lane(host, 2)
        try:
            lane.step({"op": "lpageout", "start": 0, "n": 2 * NR})
            # Cluster 0 holds the header (nonfull, order 0): an order-4 range needs a free cluster.
            assert lane.helper.large_pages()[0] == _block_entries(lane, 0, list(range(512, 512 + 2 * NR)))
            assert lane._row(0)["used"] == 2 * NR * 4
            assert (lane.world.writes, lane.world.mthp["swpout"]) == (2 * NR, 2)
            lane.step({"op": "lzap", "start": 0, "n": 2 * NR})
            assert lane._row(0)["used"] == 0
        finally:
            lane.close()


def test_fault_on_a_cached_large_folio_maps_it_whole_else_swap_in_is_order_0(mthp_ok) -> None:
    with KernelHost(mthp_kb=MTHP_KB) as host:
        lane = _large_lane(host, 1)
        try:
            lane.step({"op": "lpageout", "start": 0, "n": NR})
            lane.step({"op": "lread", "page": 3})  # still in the swap cache: all 16 ptes back
            entries, kinds = lane.helper.large_pages()
            assert entries == [None] * NR and kinds[0][0] == "head" and lane.world.reads == 0
            assert lane._row(0)["used"] == NR * 4  # a read fault frees nothing
            lane.step({"op": "lpageout", "start": 0, "n": NR})  # clean: dropped, not written
            assert lane.world.writes == NR and lane.helper.residency()["helper"]["large"] == [0] * NR
            lane.step({"op": "lread", "page": 3})  # not cached: one order-0 page read
            entries, kinds = lane.helper.large_pages()
            assert kinds[3][0] == "small" and entries[3] is None and lane.world.reads == 1
            assert entries[:3] == _block_entries(lane, 0, [512, 513, 514])
            assert lane.world.mthp["swpin"] == 0
        finally:
            lane.close()


def test_a_swap_file_takes_no_large_folio_so_it_splits_head_first_then_tails_backwards(mthp_ok) -> None:
    with KernelHost(mthp_kb=MTHP_KB) as host:
        lane = _large_lane(host, 2)
        try:
            lane.step({"op": "swapon", "priority": 9, "blkdev": False, "bad": [], "discard": "none"})
            lane.step({"op": "lpageout", "start": 0, "n": 2 * NR})
            first = [1, *range(NR, 1, -1)]
            assert lane.helper.large_pages()[0] == _block_entries(lane, 1, first + [NR + o for o in first])
            assert lane.world.mthp == {**lane.world.mthp, "swpout": 0, "swpout_fallback": 2, "split": 2}
            assert all(k[0] == "small" for k in lane.helper.large_pages()[1] if k)  # nothing left large
        finally:
            lane.close()


def test_no_free_aligned_cluster_on_a_block_device_falls_back_to_order_0(mthp_ok) -> None:
    with KernelHost(mthp_kb=MTHP_KB) as host:
        lane = _large_lane(host, 1, npages=520)
        try:
            lane.step({"op": "swapoff", "type": 0})
            lane.step({"op": "swapon", "priority": 5, "blkdev": True, "bad": [], "discard": "none"})
            # 511 order-0 slots fill cluster 0, the other 9 make cluster 1 an order-0 cluster.
            lane.step({"op": "pageout", "start": 0, "n": 520})
            lane.step({"op": "lpageout", "start": 0, "n": NR})
            first = 512 + 9
            expect = [first, *range(first + NR - 1, first, -1)]
            assert lane.helper.large_pages()[0] == _block_entries(lane, 0, expect)
            assert (lane.world.mthp["swpout"], lane.world.mthp["swpout_fallback"]) == (0, 1)
        finally:
            lane.close()


def test_random_mthp_run_agrees(mthp_ok) -> None:
    result = run_lane(seed=4, steps=800, mthp_kb=MTHP_KB)
    assert result.divergence is None and result.steps == 800
    assert proc_swaps() == []


def _model_only(seed: int, steps: int, hib_share: float) -> tuple[list[dict], ModelWorld]:
    """Random actions generated and applied to the model alone, as Lane.step applies them (the
    kernel side is what the VM tests add)."""
    rng, world = random.Random(seed), ModelWorld(64, shm_pages=0)
    blk: dict[int, bool] = {
        world.swapon(4096, 5, bad=[], solidstate=True, blkdev=False, discard="none"): False
    }
    done, next_child = [], 1
    for _ in range(steps):
        action = random_action(
            rng, world, next_child, sorted(blk), sorted(t for t, b in blk.items() if b), hib_share
        )
        done.append(action)
        op = action["op"]
        if op == "fork":
            next_child = action["child"] + 1
            world.fork(action["child"])
        elif op == "child_exit":
            world.child_exit(action["child"])
        elif op == "swapon":
            kind = {k: action[k] for k in ("bad", "blkdev", "discard")}
            t = world.swapon(1024, action["priority"], solidstate=True, **kind)
            if t >= 0:
                blk[t] = action["blkdev"]
        elif op == "swapoff":
            assert world.swapoff(action["type"]) is None
            del blk[action["type"]]
        elif op == "hib_alloc":
            world.hib_open = True
            if world.hib_area != action["type"]:
                world.hib_set_area(action["type"])
            world.hib_alloc(action["n"])
        elif op in ("hib_free", "hib_close"):
            world.hib_close() if op == "hib_close" else world.hib_free()
        elif op in ("read", "write"):
            learn = world.fault(action["page"], op == "write")
            del learn
        elif op == "pageout":
            world.pageout(action["start"], action["n"])
        elif op == "zap":
            world.zap("helper", action["start"], action["n"])
        world.sweep()
        world.ref.check_invariants()
    return done, world


def test_random_hibernation_actions_follow_the_session_rules_deterministically() -> None:
    actions, world = _model_only(3, 3000, 0.1)
    ops = Counter(a["op"] for a in actions)
    hib = ops["hib_alloc"] + ops["hib_free"] + ops["hib_close"]
    assert all(ops[op] > 0 for op in ("hib_alloc", "hib_free", "hib_close"))
    assert 0.06 < hib / len(actions) < 0.1  # the share, less the draws spent on a block device's swapon
    assert check_actions(actions, 64) is None  # the generator never breaks a rule replay enforces
    assert world.hib["taken"] > 100 and world.hib["freed"] > 0
    assert actions == _model_only(3, 3000, 0.1)[0]


def test_without_the_hibernation_share_the_actions_are_unchanged() -> None:
    """Where /dev/snapshot is absent (share 0) the generator draws exactly what it drew before
    the hibernation action existed: seeds keep their runs on such kernels."""
    rng, world = random.Random(5), ModelWorld(64, shm_pages=8)
    before = [random_action(rng, world, 1, [0]) for _ in range(500)]
    rng, world = random.Random(5), ModelWorld(64, shm_pages=8)
    assert [random_action(rng, world, 1, [0], [0], 0.0) for _ in range(500)] == before


def test_a_hibernation_share_without_a_block_device_swaps_one_on_first() -> None:
    rng, world = random.Random(0), ModelWorld(8, shm_pages=0)
    assert random_action(rng, world, 1, [0], [], 1.0)["blkdev"] is True
    assert random_action(rng, world, 1, [0], [1], 1.0)["op"] == "hib_alloc"


@pytest.mark.skipif(SNAPSHOT.exists(), reason="this kernel has /dev/snapshot")
def test_replaying_hibernation_slots_where_dev_snapshot_is_absent_exits_2(tmp_path, capsys) -> None:
    """Refused before the lane takes the host's swap (no root or swap device needed)."""
    actions = [
        {"op": "swapon", "priority": 5, "blkdev": True, "bad": [], "discard": "none"},
        {"op": "hib_alloc", "type": 1, "n": 1},
    ]
    path = tmp_path / "hib.jsonl"
    write_kernel_trace(path, {TRACE_KEY: 1, "pages": 8}, actions)
    assert main(["kernel", "--replay", str(path), "--semantics", "6.18"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.endswith("this trace takes hibernation slots, but there is no /dev/snapshot") and "\n" not in err
    )


def _guarded_run(
    seed: int,
    steps: int,
    npages: int,
    shm_pages: int,
    device: int,
    ballast: int = 0,
    guard: bool = True,
    hib_share: float = 0.0,
):
    """The lane's random actions (`draw_action`, then `fill_guard`) on the model alone
    (recorded.model_step is the model side of `Lane.step`): yields (action, drawn, whether a
    device filled up while more than half of swap was in use, vm_swap_full after the step)."""
    rng, world = random.Random(seed), ModelWorld(npages + ballast, shm_pages=shm_pages)
    types = [world.swapon(device, 5, bad=[], solidstate=False, blkdev=False, discard="none")]
    next_child = 1
    for step in range(steps):
        drawn = draw_action(rng, world, step, next_child, types, [], hib_share, ballast)
        action = fill_guard(drawn, world, types) if guard else drawn
        full_before = {t for t in types if world.inuse(t) == world.ref.device(t).pages}
        if action["op"] == "swapon":
            kind = {k: action[k] for k in ("bad", "blkdev", "discard")}
            t = world.swapon(EXTRA_DEVICE_PAGES, action["priority"], solidstate=False, **kind)
            types += [t] if t >= 0 else []
        else:
            model_step(world, action, None)
        if action["op"] == "fork":
            next_child = action["child"] + 1
        if action["op"] == "swapoff":
            types.remove(action["type"])
        filled = {t for t in types if world.inuse(t) == world.ref.device(t).pages} - full_before
        full = vm_swap_full(world.ref.nr_swap_pages(), world.ref.total_swap_pages())
        yield action, drawn, bool(filled) and full, full


def test_far_from_half_full_swap_the_fill_guard_changes_no_action() -> None:
    run = list(_guarded_run(4, 3000, 128, 32, 4096))
    assert all(action is drawn for action, drawn, _, _ in run)
    assert not any(full for *_, full in run)
    assert {"swapon", "swapoff"} <= {a["op"] for a, *_ in run}


def test_a_ballast_keeps_swap_about_half_used_and_no_device_fills_up_then() -> None:
    """--device-pages 1024 --ballast 490: the first action pages the ballast out, later ones
    leave it and the devices alone, most steps run with vm_swap_full() (faults then free
    their slots), and no allocating action fills a device while it holds (the kernel would
    schedule its asynchronous full-cluster reclaim)."""
    run = list(_guarded_run(2, 1000, 128, 32, 1024, ballast=490, hib_share=0.08))
    assert run[0][0] == {"op": "pageout", "start": 128, "n": 490}
    later = [a for a, *_ in run[1:]]
    assert all(a.get("start", a.get("page", 0)) < 128 for a in later if a["op"] in ("pageout", "zap", "read"))
    assert not {"swapon", "swapoff"} & {a["op"] for a in later}  # not even a block device for hib_alloc
    assert not any(filled for _, _, filled, _ in run)
    assert 500 < sum(full for *_, full in run) < 1000  # it crosses half-full both ways
    assert check_actions([a for a, *_ in run], 128 + 490, 32) is None


def test_near_a_full_device_the_fill_guard_trims_what_would_fill_it() -> None:
    run = list(_guarded_run(2, 1500, 128, 32, 512, ballast=470))
    trimmed = [(a, d) for a, d, _, _ in run if a is not d]
    assert len(trimmed) > 100 and all(a["op"] == "read" or a["n"] < d["n"] for a, d in trimmed)
    assert not any(filled for _, _, filled, _ in run)
    unguarded = _guarded_run(2, 1500, 128, 32, 512, ballast=470, guard=False)
    assert any(filled for _, _, filled, _ in unguarded)


def test_the_fill_guard_trims_a_pageout_to_the_slots_a_device_can_take_without_filling() -> None:
    world = ModelWorld(600, shm_pages=0)
    world.swapon(512, 5, bad=[], solidstate=False, blkdev=False, discard="none")  # 511 usable slots
    world.pageout(0, 500)
    pageout = {"op": "pageout", "start": 500, "n": 16}
    assert fill_guard(pageout, world, [0]) == {**pageout, "n": 10}  # 11 free: 11 would fill it
    world.pageout(500, 10)
    assert fill_guard(pageout, world, [0]) == {"op": "read", "page": 500}
    hib = {"op": "hib_alloc", "type": 0, "n": 3}
    assert fill_guard(hib, world, [0]) == {"op": "read", "page": 0}
    world.zap("helper", 0, 400)  # 110 in use: not half full even after 16 more
    assert fill_guard(pageout, world, [0]) is pageout
