"""The kernel lane's comparison: world actions on the kernel and on `reference.ReferenceSwap`.

Actions (helper = the pinned process owning the tracked pages):
``pageout`` [start, n), ``zap`` [start, n), ``read`` / ``write`` fault of one page, ``fork`` of a
child sharing the mapping, ``child_exit``.  After every step the kernel's observables are
compared with the model's: each tracked page's swap entry in every process (pagemap), SwapFree
vs nr_swap_pages, SwapTotal vs total_swap_pages, per-device Size/Used/Priority vs the device
record.  Asynchronous kernel work is waited for (Writeback drains to 0 after a pageout).

One kernel choice is not a function of the swap state: whether a fault (do_swap_page /
do_wp_page) frees the count-0 swap-cache slot of the page it maps (should_try_to_free_swap and
wp_can_reuse_anon_folio test the folio's page refcount, which per-CPU LRU batches change).  The
lane LEARNS that choice from /proc/swaps Used (a one-slot difference, unambiguous for a
one-page fault) and applies folio_free_swap to the model only then; every other observable is
still compared.  See README "The kernel lane".
"""

from __future__ import annotations

import contextlib
import json
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.kernel.device import KernelHost, meminfo, proc_swaps
from fuzz.kernel.driver import Helper
from reference.api import Entry, SwapContractError
from reference.model import ReferenceSwap

TRACE_KEY = "swapdiff_kernel_trace"
STAT_REFRESH = Path("/proc/sys/vm/stat_refresh")
DEFAULT_PAGES = 128
DEVICE_PAGES = 4096
PRIORITY = 5
KIB = 4


class KernelDivergence(Exception):
    """The kernel and the reference disagree after a step."""


@dataclass
class ModelWorld:
    """The reference plus the page tables of the helper and its children."""

    npages: int
    ref: ReferenceSwap = field(default_factory=lambda: ReferenceSwap(cluster_size=512))
    procs: dict[str, list[Any]] = field(
        default_factory=dict
    )  # page -> None | ("r", folio) | ("s", Entry) | ("z",)
    maps: dict[int, set[str]] = field(default_factory=dict)  # folio -> processes mapping it
    next_folio: int = 1
    type: int = -1

    def __post_init__(self) -> None:
        self.procs["helper"] = []
        for _ in range(self.npages):
            self.procs["helper"].append(("r", self._new_folio({"helper"})))

    def _new_folio(self, mappers: set[str]) -> int:
        f = self.next_folio
        self.next_folio += 1
        self.ref.folio_new(f, 0)
        self.ref.folio_set(f, mapped=True)
        self.maps[f] = set(mappers)
        return f

    def _unmap(self, f: int, proc: str) -> None:
        self.maps[f].discard(proc)
        if self.maps[f]:
            return
        self.ref.folio_set(f, mapped=False)
        if self.ref.folio_entry(f) is not None:
            self.ref.folio_free_swap(f)  # free_swap_cache on the last unmap
        if self.ref.folio_entry(f) is None:
            self.ref.folio_drop(f)
            del self.maps[f]

    def _map(self, f: int, proc: str) -> None:
        if f not in self.maps or not self.maps[f]:
            self.ref.folio_set(f, mapped=True)
        self.maps.setdefault(f, set()).add(proc)

    def cached_folio(self, proc: str, page: int) -> int | None:
        st = self.procs[proc][page]
        if st is not None and st[0] == "r" and self.ref.folio_entry(st[1]) is not None:
            return st[1]
        return None

    # ---- actions ----
    def pageout(self, start: int, n: int) -> None:
        pages = self.procs["helper"]
        for p in range(start, start + n):
            st = pages[p]
            if st is None or st[0] != "r" or self.maps[st[1]] != {"helper"}:
                continue  # not an anon folio, or shared: MADV_PAGEOUT skips it
            f = st[1]
            if self.ref.folio_entry(f) is None and self.ref.folio_alloc_swap(f) != 0:
                continue
            self.ref.folio_dup_swap(f)
            entry = self.ref.folio_entry(f)
            self.ref.swap_cache_del_folio(f)
            self.ref.folio_set(f, mapped=False)
            self.ref.folio_drop(f)
            del self.maps[f]
            pages[p] = ("s", entry)

    def fault(self, page: int, write: bool) -> int | None:
        """Returns the folio whose count-0 slot the kernel may have freed (to be learned)."""
        pages = self.procs["helper"]
        st = pages[page]
        if st is None or st[0] == "z":
            if write:
                pages[page] = ("r", self._new_folio({"helper"}))
            else:
                pages[page] = ("z",)
            return None
        if st[0] == "r":
            f = st[1]
            if not write:
                return None
            entry = self.ref.folio_entry(f)
            shared_slot = entry is not None and self.ref.swap_count(entry) > 0
            if self.maps[f] != {"helper"} or shared_slot:  # COW (do_wp_page cannot reuse)
                self._unmap(f, "helper")
                pages[page] = ("r", self._new_folio({"helper"}))
                return None
            return f if self.ref.folio_entry(f) is not None else None
        entry = st[1]
        f = self.ref.swap_cache_folio(entry)
        if not f:
            f = self.next_folio
            self.next_folio += 1
            f = self.ref.swap_cache_alloc_folio(entry, f)
            self.maps[f] = set()
        self.ref.folio_put_swap(f)
        if write and self.ref.swap_count(entry) > 0:  # shared with a child: COW copy
            if not self.maps.get(f):
                self.maps[f] = set()
            pages[page] = ("r", self._new_folio({"helper"}))
            return None
        self._map(f, "helper")
        pages[page] = ("r", f)
        return f

    def zap(self, proc: str, start: int, n: int) -> None:
        pages = self.procs[proc]
        for p in range(start, start + n):
            st = pages[p]
            if st is not None and st[0] == "s":
                self.ref.swap_put_entries_direct(st[1], 1)
            elif st is not None and st[0] == "r":
                self._unmap(st[1], proc)
            pages[p] = None

    def fork(self, child: int) -> None:
        copy = list(self.procs["helper"])
        for st in copy:
            if st is not None and st[0] == "s":
                self.ref.swap_dup_entry_direct(st[1])
            elif st is not None and st[0] == "r":
                self.maps[st[1]].add(str(child))
        self.procs[str(child)] = copy

    def child_exit(self, child: int) -> None:
        self.zap(str(child), 0, self.npages)
        del self.procs[str(child)]

    def inuse(self) -> int:
        dev = self.ref.device(self.type)
        return dev.inuse if dev else 0


@dataclass
class LaneResult:
    steps: int
    seconds: float
    divergence: str | None
    trace_path: str | None
    learned_frees: int
    paused_reclaimers: int = 0


def kernel_header(seed: int | None, npages: int, paused_reclaimers: int = 0) -> dict[str, Any]:
    return {
        TRACE_KEY: 1,
        "kernel": platform.release(),
        "settings": {
            "vm.page-cluster": 0,
            "thp_enabled": "never",
            "cpu": 0,
            "device_pages": DEVICE_PAGES,
            "priority": PRIORITY,
            "kind": "file",
            "damon_pageout_paused": paused_reclaimers,
        },
        "pages": npages,
        "seed": seed,
    }


def random_action(rng: random.Random, world: ModelWorld, next_child: int) -> dict[str, Any]:
    n = world.npages
    children = sorted(int(c) for c in world.procs if c != "helper")
    roll = rng.random()
    if roll < 0.30:
        start = rng.randrange(n)
        return {"op": "pageout", "start": start, "n": rng.randint(1, min(16, n - start))}
    if roll < 0.50:
        return {"op": "read", "page": rng.randrange(n)}
    if roll < 0.70:
        return {"op": "write", "page": rng.randrange(n)}
    if roll < 0.80:
        start = rng.randrange(n)
        return {"op": "zap", "start": start, "n": rng.randint(1, min(8, n - start))}
    if roll < 0.90 and len(children) < 3:
        return {"op": "fork", "child": next_child}
    if children:
        return {"op": "child_exit", "child": rng.choice(children)}
    return {"op": "read", "page": rng.randrange(n)}


class Lane:
    """One kernel-lane run: the host, the device, the helper and the model, in step."""

    def __init__(self, host: KernelHost, npages: int) -> None:
        self.host = host
        self.npages = npages
        self.world = ModelWorld(npages)
        self.others_total = sum(r["size"] for r in proc_swaps())
        self.others_used = sum(r["used"] for r in proc_swaps())
        self.path = host.add_device(DEVICE_PAGES, priority=PRIORITY)
        self.world.type = self.world.ref.swapon(
            DEVICE_PAGES, priority=PRIORITY, solidstate=False, blkdev=False
        )
        row = self._row()
        self.ktype = len(proc_swaps()) - 1  # si->type: the first free type (lane devices only)
        self.helper = Helper(npages, cpu=0)
        self.learned = 0
        del row

    def close(self) -> None:
        self.helper.close()

    def _row(self) -> dict[str, Any]:
        for r in proc_swaps():
            if r["filename"] == str(self.path):
                return r
        raise KernelDivergence(f"{self.path} is not in /proc/swaps")

    def _settle(self) -> None:
        """Wait (bounded, 5 s) until no page is under writeback.  /proc/meminfo's Writeback is
        a per-CPU-batched counter that can lag; writing /proc/sys/vm/stat_refresh folds the
        per-CPU deltas first, so 0 means 0."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                STAT_REFRESH.write_text("1")
            if meminfo().get("Writeback", 0) == 0:
                return
            time.sleep(0.002)

    def step(self, action: dict[str, Any]) -> None:
        op = action["op"]
        w = self.world
        learn: int | None = None
        if op == "pageout":
            self.helper.call("pageout", start=action["start"], n=action["n"])
            self._settle()
            w.pageout(action["start"], action["n"])
        elif op in ("read", "write"):
            self.helper.call(op, page=action["page"])
            learn = w.fault(action["page"], op == "write")
        elif op == "zap":
            self.helper.call("zap", start=action["start"], n=action["n"])
            w.zap("helper", action["start"], action["n"])
        elif op == "fork":
            self.helper.fork(action["child"])
            w.fork(action["child"])
        elif op == "child_exit":
            self.helper.child_exit(action["child"])
            w.child_exit(action["child"])
        else:
            raise ValueError(f"unknown kernel-lane action {op!r}")
        # Only write faults may free (should_try_to_free_swap frees on a read fault only when
        # vm_swap_full() or mlocked, never true for the lane's device size), so a read fault
        # that lowers Used is a divergence, not a learned choice.
        if learn is not None and op == "write" and w.ref.folio_entry(learn) is not None:
            used = self._row()["used"] // KIB
            if used == w.inuse() - 1:
                if not w.ref.folio_free_swap(learn):
                    raise KernelDivergence("the kernel freed a slot the model cannot free")
                self.learned += 1
        self.compare()

    def compare(self) -> None:
        w = self.world
        problems = []
        entries = self.helper.entries()
        for proc, kpages in entries.items():
            mpages = w.procs.get(proc)
            if mpages is None:
                problems.append(f"process {proc} unknown to the model")
                continue
            for p, kent in enumerate(kpages):
                st = mpages[p]
                ment = (self.ktype, st[1].offset) if st is not None and st[0] == "s" else None
                if kent != ment:
                    problems.append(f"{proc} page {p}: kernel entry {kent}, model {ment}")
        row = self._row()
        dev = w.ref.device(w.type)
        if row["used"] != dev.inuse * KIB:
            problems.append(f"Used: kernel {row['used']} KiB, model inuse {dev.inuse} pages")
        if row["size"] != dev.pages * KIB:
            problems.append(f"Size: kernel {row['size']} KiB, model pages {dev.pages}")
        if row["priority"] != dev.priority:
            problems.append(f"Priority: kernel {row['priority']}, model {dev.priority}")
        mi = meminfo()
        if mi["SwapTotal"] - self.others_total != w.ref.total_swap_pages() * KIB:
            problems.append(
                f"SwapTotal: kernel {mi['SwapTotal']} KiB, model {w.ref.total_swap_pages()} pages"
            )
        others_free = self.others_total - sum(
            r["used"] for r in proc_swaps() if r["filename"] != str(self.path)
        )
        if mi["SwapFree"] - others_free != w.ref.nr_swap_pages() * KIB:
            problems.append(f"SwapFree: kernel {mi['SwapFree']} KiB, model {w.ref.nr_swap_pages()} pages")
        try:
            w.ref.check_invariants()
        except AssertionError as err:
            problems.append(f"model invariant: {err}")
        if problems:
            raise KernelDivergence("; ".join(problems[:8]))


def write_kernel_trace(path: Path, header: dict[str, Any], actions: list[dict[str, Any]]) -> None:
    from fuzz.trace import atomic_write_text

    lines = [json.dumps(header), *(json.dumps({"i": i, **a}) for i, a in enumerate(actions))]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_kernel_trace(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from fuzz.trace import TraceError

    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise TraceError(f"{path}: {err.strerror}") from None
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get(TRACE_KEY) != 1:
        raise TraceError(f'{path}:1: not a kernel-lane trace (header needs "{TRACE_KEY}": 1)')
    actions = []
    ops = {
        "pageout": ("start", "n"),
        "zap": ("start", "n"),
        "read": ("page",),
        "write": ("page",),
        "fork": ("child",),
        "child_exit": ("child",),
    }
    for k, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise TraceError(f"{path}:{k}: not JSON") from None
        if not isinstance(rec, dict) or rec.get("i") != k - 2 or rec.get("op") not in ops:
            raise TraceError(f"{path}:{k}: bad kernel-lane op record")
        keys = set(rec) - {"i", "op"}
        if keys != set(ops[rec["op"]]) or not all(isinstance(rec[x], int) for x in keys):
            raise TraceError(f"{path}:{k}: {rec['op']} needs integer {', '.join(ops[rec['op']])}")
        rec.pop("i")
        actions.append(rec)
    return header, actions


def run_lane(
    *,
    seed: int = 0,
    steps: int | None = None,
    seconds: float | None = None,
    npages: int = DEFAULT_PAGES,
    allow_existing: bool = False,
    out: Path | None = None,
    replay: list[dict[str, Any]] | None = None,
) -> LaneResult:
    """Run random actions (or `replay`) on the kernel and the model; stop at the first divergence."""
    rng = random.Random(seed)
    done: list[dict[str, Any]] = []
    t0 = time.monotonic()
    divergence = None
    trace_path = None
    with KernelHost(allow_existing=allow_existing) as host:
        paused = len(host.paused_damon)
        lane = Lane(host, npages)
        try:
            lane.compare()
            next_child = 1
            i = 0
            while True:
                if replay is not None:
                    if i >= len(replay):
                        break
                    action = replay[i]
                else:
                    if steps is not None and i >= steps:
                        break
                    if seconds is not None and time.monotonic() - t0 >= seconds:
                        break
                    action = random_action(rng, lane.world, next_child)
                if action["op"] == "fork":
                    next_child = max(next_child, action["child"] + 1)
                done.append(action)
                i += 1
                try:
                    lane.step(action)
                except (KernelDivergence, SwapContractError) as err:
                    divergence = f"step {i - 1} {action}: {err}"
                    break
        finally:
            lane.close()
    if divergence is not None and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        trace_path = str(out / f"kernel-divergence-seed{seed}.jsonl")
        header = kernel_header(seed, npages, paused)
        header["divergence"] = divergence
        write_kernel_trace(Path(trace_path), header, done)
    return LaneResult(len(done), time.monotonic() - t0, divergence, trace_path, lane.learned, paused)


__all__ = ["Entry", "KernelDivergence", "Lane", "LaneResult", "ModelWorld", "run_lane"]


def _valid(actions: list[dict[str, Any]]) -> bool:
    live: set[int] = set()
    for a in actions:
        if a["op"] == "fork":
            if a["child"] in live:
                return False
            live.add(a["child"])
        elif a["op"] == "child_exit":
            if a["child"] not in live:
                return False
            live.discard(a["child"])
    return True


def shrink(
    actions: list[dict[str, Any]], *, npages: int = DEFAULT_PAGES, max_seconds: float = 120.0
) -> list[dict[str, Any]]:
    """Delta-debug a diverging action list to a shorter one that still diverges (any divergence)."""
    t0 = time.monotonic()

    def diverges(cand: list[dict[str, Any]]) -> bool:
        return _valid(cand) and run_lane(replay=cand, npages=npages).divergence is not None

    cur = list(actions)
    chunk = max(1, len(cur) // 2)
    while chunk >= 1 and time.monotonic() - t0 < max_seconds:
        i = 0
        changed = False
        while i < len(cur) and time.monotonic() - t0 < max_seconds:
            cand = cur[:i] + cur[i + chunk :]
            if cand and diverges(cand):
                cur = cand
                changed = True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return cur
