"""The kernel lane's comparison: lane actions on the running kernel and on the model, in step.

Actions (helper = the pinned process owning the tracked pages): ``pageout`` [start, n),
``zap`` [start, n), ``read`` / ``write`` fault of one page, ``fork`` of a child sharing the
mapping, ``child_exit``, ``swapon`` of another lane device at a priority, ``swapoff`` of a lane
device (the kernel's try_to_unuse brings every page back); with an mTHP size (`--mthp`),
``lpageout`` / ``lzap`` of whole folio blocks and ``lread`` / ``lwrite`` of the large region,
whose folio shapes (/proc/kpageflags) and per-size mTHP counters are compared too; on the
shmem pages (`--shm-pages`), ``spageout`` / ``szap`` / ``spunch`` ranges and ``sread`` /
``swrite`` of one page (about 15% of random actions, `SHM_SHARE`); where /dev/snapshot
exists, ``hib_alloc`` / ``hib_free`` / ``hib_close`` take and free hibernation slots through
the uswsusp interface (`--hibernation-share` of random actions, docs/hibernation.md).  After
every step `Lane.compare` checks the kernel's observables against the model's (see README
"The kernel lane" for the list and for what is excluded and why).  Asynchronous kernel work
is waited for (a pageout returns once the folios it wrote are out of writeback); host
reclaimers that would page out on their own are paused (`reclaimers`).

Whether a fault frees the count-0 swap-cache slot of the page it maps is predicted by the
release's rules (fuzz/kernel/rules.py), nothing is read back from the kernel; the refcount
tests of should_try_to_free_swap and wp_can_reuse_anon_folio are kept predictable by draining
every CPU's LRU batches before each store as well as before each pageout.  ``store`` is a
store without a load (one write fault on a swapped page), ``write`` a load then a store.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.kernel.device import (
    CLUSTER,
    LANE_DIR,
    THP_DIR,
    KernelHost,
    KernelUnavailable,
    meminfo,
    mthp_order,
    proc_swaps,
    vmstat,
)
from fuzz.kernel.driver import PM_PRESENT, Helper, LruDrainer, ProcessView, probe_pageout, swap_entry
from fuzz.kernel.rules import RULES
from fuzz.kernel.snapshot import SNAPSHOT
from fuzz.kernel.trace import (
    EXTRA_DEVICE_PAGES,
    HIB_OPS,
    MAX_LANE_DEVICES,
    TRACE_KEY,
    check_actions,
    write_kernel_trace,
)
from fuzz.kernel.world import FAULT_AROUND_PAGES, HELPER, ModelWorld
from reference.api import Entry, SwapContractError, vm_swap_full

STAT_REFRESH = Path("/proc/sys/vm/stat_refresh")
DEFAULT_PAGES = 128
DEFAULT_SHM_PAGES = 32
DEFAULT_LARGE_FOLIOS = 4
DEVICE_PAGES = 4096  # the first lane device (a swap file): 8 clusters of 512 (--device-pages)
MAX_DEVICE_PAGES = 65536
PRIORITY = 5
HELPER_CPU = 0  # the header's "cpu"
SWAPON_PRIORITIES = (1, 5, 9)  # equal priorities (round robin) as often as ordered ones
KIB = 4
HIB_SHARE = 0.08  # of random actions where /dev/snapshot exists (--hibernation-share)
HIB_BATCH = 16  # at most this many slots per hib_alloc action


# Zero-filled folios are not written to swap (the swap zeromap) and read back without I/O; the
# lane writes a non-zero byte into every page it owns, so the model predicts 0 for both.
ZERO_COUNTERS = ("swpout_zero", "swpin_zero")
MTHP_COMPARED = ("anon_fault_alloc", "swpout", "swpout_fallback", "split", "swpin")


def mthp_stats_dir(size_kb: int) -> Path:
    return THP_DIR / f"hugepages-{size_kb}kB" / "stats"


def read_mthp_stats(stats: Path | None) -> dict[str, int]:
    """The per-size mTHP event counters the lane compares (global sums over CPUs)."""
    if stats is None:
        return dict.fromkeys(MTHP_COMPARED, 0)
    return {name: int((stats / name).read_text()) for name in MTHP_COMPARED}


def signed_kib(value: int) -> int:
    """A /proc/meminfo value the kernel printed from a negative counter (unsigned long)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def refreshed_meminfo() -> dict[str, int]:
    """/proc/meminfo after folding the per-CPU counter deltas (stat_refresh), so SwapCached
    (NR_SWAPCACHE, a per-CPU-batched node counter) is exact.  SwapTotal and SwapFree need no
    refresh (total_swap_pages and the atomic nr_swap_pages), nor do /proc/swaps Used
    (inuse_pages) and /proc/vmstat's event counters (summed over CPUs when read)."""
    with contextlib.suppress(OSError):
        STAT_REFRESH.write_text("1")
    return meminfo()


class KernelDivergence(Exception):
    """The kernel and the reference disagree after a step."""


@dataclass
class LaneDevice:
    path: Path  # as /proc/swaps shows it: the swap file, or /dev/loopN
    type: int  # the model's swap type; the kernel's is type + Lane.type_base
    priority: int
    blkdev: bool


@dataclass
class LaneResult:
    steps: int
    seconds: float
    divergence: str | None
    trace_path: str | None
    fault_frees: int  # count-0 slots freed at fault time, as the rules predicted them
    swap_full_frees: int = 0  # of those, freed because more than half of swap was in use
    swap_full_steps: int = 0  # steps after which more than half of swap was in use (vm_swap_full)
    trimmed: int = 0  # allocating actions made smaller so that no device fills up (`fill_guard`)
    paused_reclaimers: int = 0
    mthp: dict[str, int] | None = None  # the model's large-folio events (kernel counters agree)
    ops: dict[str, int] = field(default_factory=dict)  # actions run, per op
    shm_events: dict[str, int] = field(default_factory=dict)  # the model's ModelWorld.shm_events
    hib: dict[str, int] | None = None  # slots taken/freed/refused; None: the action was absent
    hib_note: str = ""  # why the hibernation action was absent
    # the first divergence's step (None: at setup, before any action) and what differed
    divergence_step: int | None = None
    divergence_detail: str | None = None
    swapfree_offset: int = 0  # KiB SwapFree was off before the run (Lane.swapfree_offset)


def kernel_header(
    seed: int | None,
    npages: int,
    paused_reclaimers: int = 0,
    semantics: str = "6.18",
    shm_pages: int = DEFAULT_SHM_PAGES,
    mthp_kb: int = 0,
    large_folios: int = 0,
    hib_share: float = 0.0,
    device_pages: int = DEVICE_PAGES,
    ballast: int = 0,
) -> dict[str, Any]:
    """`hib_share`: the share of random hibernation actions (0 where /dev/snapshot is absent);
    `ballast`: the last pages of `npages`, paged out by the first action and left alone."""
    mthp = None
    if mthp_kb:
        mthp = {"size_kb": mthp_kb, "order": mthp_order(mthp_kb), "folios": large_folios}
    return {
        TRACE_KEY: 1,
        "kernel": platform.release(),
        "semantics": semantics,
        "settings": {
            "vm.page-cluster": 0,
            "thp_enabled": "never",
            "cpu": 0,
            "device_pages": device_pages,
            "extra_device_pages": EXTRA_DEVICE_PAGES,
            "priority": PRIORITY,
            "kind": "blkdev" if mthp_kb else "file",
            "damon_pageout_paused": paused_reclaimers,
            # the model's fault-around window (the kernel default; debugfs, not read here)
            "fault_around_pages": FAULT_AROUND_PAGES,
            "shm_align": "2MiB",
            "mthp_enabled": {f"{mthp_kb}kB": "madvise", "other sizes": "never"} if mthp_kb else "never",
        },
        "mthp": mthp,
        "hibernation_share": hib_share,
        "pages": npages,
        "ballast": ballast,
        "shm_pages": shm_pages,
        "seed": seed,
    }


def random_swapon(rng: random.Random, blkdev: bool | None = None) -> dict[str, Any]:
    """A swap file or a block device (with bad pages, discarded once at swapon or not); now and
    then a swap file listing bad pages, which both sides must refuse (EINVAL).  `blkdev` forces
    the kind."""
    if blkdev is None:
        blkdev = rng.random() < 0.5
    nbad = rng.randint(0, 3) if blkdev or rng.random() < 0.2 else 0
    return {
        "op": "swapon",
        "priority": rng.choice(SWAPON_PRIORITIES),
        "blkdev": blkdev,
        "bad": sorted(rng.sample(range(1, EXTRA_DEVICE_PAGES), nbad)),
        "discard": "once" if blkdev and rng.random() < 0.5 else "none",
    }


def large_pages(mthp_kb: int, large_folios: int) -> tuple[int, int]:
    """(pages, folio pages) of the large region, (0, 1) without one: what check_actions needs."""
    if not mthp_kb or not large_folios:
        return (0, 1)
    nr = 1 << mthp_order(mthp_kb)
    return (large_folios * nr, nr)


def random_large_action(rng: random.Random, world: ModelWorld) -> dict[str, Any]:
    """An action on the large region: pageout and zap of whole aligned blocks only."""
    nr, nblocks = world.large_nr, world.large_folios
    roll = rng.random()
    if roll < 0.35 or roll >= 0.85:
        start = rng.randrange(nblocks)
        n = rng.randint(1, min(2, nblocks - start))
        return {"op": "lpageout" if roll < 0.35 else "lzap", "start": start * nr, "n": n * nr}
    return {"op": "lread" if roll < 0.6 else "lwrite", "page": rng.randrange(len(world.large))}


SHM_SHARE = 0.15  # of all actions, when the world has shmem pages
SHM_OPS = ("spageout", "sread", "swrite", "szap", "spunch")


def random_shm_action(rng: random.Random, world: ModelWorld) -> dict[str, Any]:
    """An action on the shmem pages: pageout, read and write most, zap and hole punch less
    (a punch discards the page's data; a later read fault finds a hole)."""
    n = world.shm_pages
    roll = rng.random()
    if roll < 0.3:
        start = rng.randrange(n)
        return {"op": "spageout", "start": start, "n": rng.randint(1, min(16, n - start))}
    if roll < 0.55:
        return {"op": "sread", "page": rng.randrange(n)}
    if roll < 0.75:
        return {"op": "swrite", "page": rng.randrange(n)}
    start = rng.randrange(n)
    if roll < 0.9:
        return {"op": "szap", "start": start, "n": rng.randint(1, min(16, n - start))}
    return {"op": "spunch", "start": start, "n": rng.randint(1, min(4, n - start))}


def random_hib_action(rng: random.Random, world: ModelWorld, blkdevs: list[int]) -> dict[str, Any] | None:
    """A hibernation action: more slots (on the area while slots may be held: the kernel lets
    the area change only when none is), SNAPSHOT_FREE_SWAP_PAGES or close; None when no lane
    block device exists to take slots on."""
    if world.hib_open and rng.random() < (0.45 if world.hib_since_free else 0.15):
        return {"op": "hib_free"} if world.hib_since_free and rng.random() < 0.6 else {"op": "hib_close"}
    if world.hib_since_free and world.hib_area is not None:
        type = world.hib_area
    elif blkdevs:
        type = rng.choice(blkdevs)
    else:
        return None
    return {"op": "hib_alloc", "type": type, "n": rng.randint(1, HIB_BATCH)}


def random_action(
    rng: random.Random,
    world: ModelWorld,
    next_child: int,
    types: list[int],
    blkdevs: list[int] = (),  # type: ignore[assignment]
    hib_share: float = 0.0,
    active: int | None = None,
    devices_change: bool = True,
) -> dict[str, Any]:
    """One random action.  With `hib_share`, that share are hibernation actions on the lane's
    block devices `blkdevs` (a block device is swapped on first when there is none).  The
    helper's anonymous actions touch its first `active` pages (default: all; the rest is the
    ballast, paged out once at the start).  Without `devices_change` no swapon or swapoff is
    drawn (a ballast keeps swap more than half used only on the devices it was sized for)."""
    if hib_share and rng.random() < hib_share:
        action = random_hib_action(rng, world, list(blkdevs))
        if action is None and len(types) < MAX_LANE_DEVICES and devices_change:
            action = random_swapon(rng, blkdev=True)
        if action is not None:
            return action
    if world.shm_pages and rng.random() < SHM_SHARE:
        return random_shm_action(rng, world)
    if world.large and rng.random() < 0.3:
        return random_large_action(rng, world)
    n = world.npages if active is None else active
    children = sorted(int(c) for c in world.procs if c != HELPER)
    roll = rng.random()
    if roll < 0.30:
        start = rng.randrange(n)
        return {"op": "pageout", "start": start, "n": rng.randint(1, min(16, n - start))}
    if roll < 0.45:
        return {"op": "read", "page": rng.randrange(n)}
    if roll < 0.58:
        return {"op": "write", "page": rng.randrange(n)}
    if roll < 0.68:
        return {"op": "store", "page": rng.randrange(n)}
    if roll < 0.78:
        start = rng.randrange(n)
        return {"op": "zap", "start": start, "n": rng.randint(1, min(8, n - start))}
    if roll < 0.88 and len(children) < 3:
        return {"op": "fork", "child": next_child}
    if roll < 0.94 and children:
        return {"op": "child_exit", "child": rng.choice(children)}
    if roll < 0.97 and len(types) < MAX_LANE_DEVICES and devices_change:
        return random_swapon(rng)
    # the open /dev/snapshot's swap area stays on (7.x pins it; see fuzz.kernel.trace)
    off = [t for t in types if not (world.hib_open and t == world.hib_area) and devices_change]
    if off:
        return {"op": "swapoff", "type": rng.choice(off)}
    return {"op": "read", "page": rng.randrange(n)}


ALLOCATING_OPS = ("pageout", "lpageout", "spageout", "hib_alloc")


def may_fill_a_device(world: ModelWorld, types: list[int], n: int) -> bool:
    """Whether taking up to `n` slots could fill one of the lane devices `types` while more than
    half of swap is in use.  The kernel then schedules its full-cluster reclaim work
    (swap_range_alloc: the device's inuse reaches its pages and vm_swap_full()), which reclaims
    cached count-0 slots on a workqueue at a moment of its own, possibly amid the allocating
    call: not a step the lane can put in order with the model's."""
    ref = world.ref
    if n <= 0 or not vm_swap_full(ref.nr_swap_pages() - n, ref.total_swap_pages()):
        return False
    devices = [ref.device(t) for t in types]
    return any(d is not None and d.pages - d.inuse <= n for d in devices)


def fill_guard(action: dict[str, Any], world: ModelWorld, types: list[int]) -> dict[str, Any]:
    """A random allocating action made small enough that `may_fill_a_device` is false (whole
    blocks for the large region); one with nothing left becomes a read fault.  Far from
    half-full swap (the default devices) it never changes an action; with a small first device
    (`--device-pages`) it lets the lane run with more than half of swap in use."""
    op = action["op"]
    if op not in ALLOCATING_OPS or not may_fill_a_device(world, types, action["n"]):
        return action
    step = world.large_nr if op == "lpageout" else 1
    n = action["n"] - step
    while n > 0 and may_fill_a_device(world, types, n):
        n -= step
    if n > 0:
        return {**action, "n": n}
    return {"op": "read", "page": action.get("start", 0) % world.npages}


def draw_action(
    rng: random.Random,
    world: ModelWorld,
    step: int,
    next_child: int,
    types: list[int],
    blkdevs: list[int],
    hib_share: float,
    ballast: int,
) -> dict[str, Any]:
    """Step `step`'s random action (before `fill_guard`): with a ballast, the first pages it out
    and the others leave it and the devices alone."""
    if ballast and step == 0:
        return {"op": "pageout", "start": world.npages - ballast, "n": ballast}
    active = world.npages - ballast
    return random_action(
        rng, world, next_child, types, blkdevs, hib_share, active=active, devices_change=not ballast
    )


class Lane:
    """One kernel-lane run: the host, the lane devices, the helper and the model, in step."""

    def __init__(
        self,
        host: KernelHost,
        npages: int,
        shm_pages: int = DEFAULT_SHM_PAGES,
        large_folios: int = 0,
        semantics: str = "6.18",
        hibernation: bool = False,
        device_pages: int = DEVICE_PAGES,
    ) -> None:
        """`large_folios`: folios of the host's mTHP size (`host.mthp_kb`) in the large region;
        the first device is then a block device (a swap file takes no large folio).
        `hibernation`: look for /dev/snapshot (`hib_note` says why it cannot be used).
        `device_pages`: the first device's size (whole clusters)."""
        self.host = host
        self.npages = npages
        self.device_pages = device_pages
        self.large_order = mthp_order(host.mthp_kb) if host.mthp_kb and large_folios else 0
        self.mthp_stats = mthp_stats_dir(host.mthp_kb) if self.large_order else None
        self.mthp_base = read_mthp_stats(self.mthp_stats)
        self.world = ModelWorld(
            npages,
            rules=RULES[semantics],
            shm_pages=shm_pages,
            large_order=self.large_order,
            large_folios=large_folios if self.large_order else 0,
        )
        others = proc_swaps()
        self.others_total = sum(r["size"] for r in others)
        # si->type is the first free slot; other devices (--allow-existing) hold the lowest ones.
        self.type_base = len(others)
        self.devices: dict[int, LaneDevice] = {}
        self.swapfree_offset = self._swapfree_offset()
        # The helper's interpreter starts while the probe and the first swapon run; its faults
        # come after mthp_base (above) and before the first observation (wait_ready).
        nr = 1 << self.large_order
        self.helper = Helper(
            npages, cpu=HELPER_CPU, shm_pages=shm_pages, large_pages=len(self.world.large), large_align=nr
        )
        try:
            self._probe()
            self.setup_divergence = self._first_device()
            self.helper.wait_ready()
        except BaseException:
            self.helper.close()
            raise
        self.drainer = LruDrainer(HELPER_CPU)
        self.hib_note = self._probe_snapshot() if hibernation else "not asked for"
        io = vmstat()
        self.io_base = (io["pswpin"], io["pswpout"])
        self.zero_base = {name: io.get(name, 0) for name in ZERO_COUNTERS}

    def close(self) -> None:
        self.helper.close()
        self.drainer.close()

    def _probe(self) -> None:
        """Before the lane's devices exist: on a scratch device, check that MADV_PAGEOUT swaps
        out and pagemap shows the entry (else the first compare would call it a divergence).
        Its swapoff leaves no allocator state behind for the lane's devices."""
        path = self.host.add_device(CLUSTER)
        try:
            missing = probe_pageout()
        finally:
            self.host.remove_device(path)
        if missing is not None:
            raise KernelUnavailable(missing)

    def _probe_snapshot(self) -> str:
        """ "" if the helper can open /dev/snapshot as the image writer, else why not."""
        if not SNAPSHOT.exists():
            return f"no {SNAPSHOT} (this kernel has no CONFIG_HIBERNATION)"
        rc = self.helper.call("hib_open")
        if rc != 0:
            return f"{SNAPSHOT} cannot be opened ({os.strerror(-rc)})"
        self.helper.call("hib_close")
        return ""

    @property
    def hib_available(self) -> bool:
        return self.hib_note == ""

    def blkdevs(self) -> list[int]:
        return sorted(t for t, d in self.devices.items() if d.blkdev)

    def hib_alloc(self, type: int, n: int) -> None:
        """Open /dev/snapshot if needed, name `type`'s device as the swap area if it is not, and
        take `n` slots; every call's result must match the model's."""
        w = self.world
        if not w.hib_open:
            rc = self.helper.call("hib_open")
            if rc != 0:
                raise KernelDivergence(f"open {SNAPSHOT}: kernel {rc} ({os.strerror(-rc)}), model 0")
            w.hib_open = True
        if w.hib_area != type:
            rc = self.helper.call("hib_area", device=str(self.devices[type].path))
            if rc != 0:
                raise KernelDivergence(f"SNAPSHOT_SET_SWAP_AREA on type {type}: kernel {rc}, model 0")
            w.hib_set_area(type)
        kernel = self.helper.call("hib_alloc", n=n)
        model = w.hib_alloc(n)
        if kernel != model:
            raise KernelDivergence(f"SNAPSHOT_ALLOC_SWAP_PAGE offsets: kernel {kernel}, model {model}")

    def hib_free(self, close: bool) -> None:
        rc = self.helper.call("hib_close" if close else "hib_free")
        if close:
            self.world.hib_close()
        else:
            self.world.hib_free()
        if rc != 0:
            raise KernelDivergence(f"SNAPSHOT_FREE_SWAP_PAGES: kernel {rc}, model 0")

    def _swapfree_offset(self) -> int:
        """KiB by which SwapFree differs from the other devices' free slots before the lane
        swaps anything on: 0 on a consistent kernel.  A kernel whose global free counter an
        earlier run on this boot left off (the hibernation double decrement never gives its
        page back) would fail every later run at its first compare, replays and shrinking
        included; the lane compares SwapFree relative to this offset and reports it."""
        rows = proc_swaps()
        free = signed_kib(refreshed_meminfo()["SwapFree"])
        return free - sum(r["size"] - r["used"] for r in rows)

    def _first_device(self) -> str | None:
        """swapon of the lane's first device on both sides.  A difference here is the run's
        first divergence (reported as step "setup", before any action), not an error; only a
        swapon both sides refuse alike means the lane cannot run."""
        try:
            type = self.swapon(PRIORITY, pages=self.device_pages, blkdev=bool(self.large_order))
        except KernelDivergence as err:
            return str(err)
        if type < 0:
            raise KernelUnavailable(f"the lane's first swap device was refused (errno {-type}) by both sides")
        return None

    def ktype(self, type: int) -> int:
        return type + self.type_base

    def swapon(
        self,
        priority: int,
        *,
        pages: int = EXTRA_DEVICE_PAGES,
        blkdev: bool = False,
        bad: list[int] | None = None,
        discard: str = "none",
    ) -> int:
        """swapon on both sides; the model's result (a type or -errno) must match the kernel's."""
        bad = bad or []
        kind: dict[str, Any] = {"bad": bad, "blkdev": blkdev, "discard": discard}
        # what this swapon asked for and got: a recorded trace rebuilds the model's devices from it
        self.last_swapon: dict[str, Any] = dict(
            pages=pages, priority=priority, blkdev=blkdev, rc=0, solidstate=False
        )
        try:
            path = self.host.add_device(pages, priority=priority, **kind)
        except OSError as err:
            krc = -(err.errno or 0)
            mrc = self.world.swapon(pages, priority, solidstate=False, **kind)
            self.last_swapon["rc"] = krc
            if mrc != krc:
                raise KernelDivergence(f"swapon: kernel {krc} ({err.strerror}), model {mrc}") from None
            return mrc
        solidstate = not self.host.rotational(path)
        type = self.world.swapon(pages, priority, solidstate=solidstate, **kind)
        self.last_swapon.update(rc=type, solidstate=solidstate)
        if type < 0:
            raise KernelDivergence(f"swapon: the kernel swapped on {path}, the model returned {type}")
        self.devices[type] = LaneDevice(path, type, priority, blkdev)
        return type

    def swapoff(self, type: int) -> None:
        try:
            self.host.remove_device(self.devices[type].path)
        except OSError as err:
            raise KernelDivergence(f"the kernel's swapoff failed: {err.strerror}") from None
        del self.devices[type]
        problem = self.world.swapoff(type)
        if problem is not None:
            raise KernelDivergence(problem)

    def _row(self, type: int) -> dict[str, Any]:
        path = str(self.devices[type].path)
        for r in proc_swaps():
            if r["filename"] == path:
                return r
        raise KernelDivergence(f"{path} is not in /proc/swaps")

    def step(self, action: dict[str, Any]) -> None:
        """Run one action on the kernel and the model, then compare every observable.  A helper
        action's reply carries the observation after it (one round trip); the model takes
        the action while the helper runs it."""
        op = action["op"]
        w = self.world
        if op in ("pageout", "spageout", "lpageout", "write", "store", "lwrite"):
            self.drainer.drain()  # no folio may hold a batch reference on another CPU
        model = self._model_action(action)
        if model is not None:
            args = {k: v for k, v in action.items() if k != "op"}
            if op in ("lread", "lwrite"):
                args["nr"] = w.large_nr
            self.helper.act_send(op, **args)
            try:
                model()
                w.sweep()
            finally:
                _, seen = self.helper.act_receive(op)
            self._compare(seen, meminfo())  # the helper refreshed the counters after the action
            return
        if op == "fork":
            self.helper.fork(action["child"])
            w.fork(action["child"])
        elif op == "child_exit":
            self.helper.child_exit(action["child"])
            w.child_exit(action["child"])
        elif op == "swapon":
            self.swapon(
                action["priority"], blkdev=action["blkdev"], bad=action["bad"], discard=action["discard"]
            )
        elif op == "swapoff":
            self.swapoff(action["type"])
        elif op == "hib_alloc":
            self.hib_alloc(action["type"], action["n"])
        elif op in ("hib_free", "hib_close"):
            self.hib_free(op == "hib_close")
        else:
            raise ValueError(f"unknown kernel-lane action {op!r}")
        w.sweep()
        self.compare()

    def _model_action(self, action: dict[str, Any]) -> Any:
        """For an action the helper runs alone (its pages' syscalls), the model's side of it as
        a call; None for the others."""
        w, op = self.world, action["op"]
        span = (action.get("start"), action.get("n"))
        return {
            "pageout": lambda: w.pageout(*span),
            "read": lambda: w.fault(action["page"], False),
            "write": lambda: w.fault(action["page"], True),
            "store": lambda: w.store(action["page"]),
            "zap": lambda: w.zap(HELPER, *span),
            "lpageout": lambda: w.large_pageout(*span),
            "lread": lambda: w.large_fault(action["page"], False),
            "lwrite": lambda: w.large_fault(action["page"], True),
            "lzap": lambda: w.large_zap(*span),
            "spageout": lambda: w.shm_pageout(*span),
            "sread": lambda: w.shm_read(action["page"]),
            "swrite": lambda: w.shm_write(action["page"]),
            "szap": lambda: w.shm_zap(*span),
            "spunch": lambda: w.shm_punch(*span),
        }.get(op)

    def observed(self) -> dict[str, Any]:
        """The kernel's values of what a recorded trace holds (fuzz/kernel/recorded.py)."""
        rows = {r["filename"]: r for r in proc_swaps()}
        lane_paths = self._lane_paths()
        others_free = self.others_total - sum(r["used"] for name, r in rows.items() if name not in lane_paths)
        mi, io = refreshed_meminfo(), vmstat()
        entries = {
            proc: [None if e is None else [e[0] - self.type_base, e[1]] for e in kpages]
            for proc, kpages in sorted(self.helper.entries().items())
        }
        return {
            "entries": entries,
            "used": {str(t): rows[str(d.path)]["used"] // KIB for t, d in sorted(self.devices.items())},
            "swap_free": (mi["SwapFree"] - others_free) // KIB,
            "swap_cached": mi["SwapCached"] // KIB,
            "reads": io["pswpin"] - self.io_base[0],
            "writes": io["pswpout"] - self.io_base[1],
        }

    def _resident(self, st: Any) -> int:
        """mincore's bit as the model predicts it (a read of a never-written page maps the zero
        page, which is present)."""
        if st is None:
            return 0
        if st[0] == "s":
            return int(self.world.cached(st[1]))
        return 1

    def _model_entry(self, st: Any) -> tuple[int, int] | None:
        if st is not None and st[0] == "s":
            return (self.ktype(st[1].type), st[1].offset)
        return None

    def compare(self) -> None:
        """Every observable against the model.  The helper's processes read their pages while
        this process reads the global counters (stat_refresh waits for a work item on every
        CPU) and checks the model's invariants."""
        self.helper.observe_send()
        try:
            mi = refreshed_meminfo()
        finally:
            seen = self.helper.observe_receive()
        self._compare(seen, mi)

    def _compare(self, seen: dict[str, ProcessView], mi: dict[str, int]) -> None:
        """The pages as the helper's processes saw them and /proc/meminfo (read after a
        stat_refresh) against the model, with /proc/swaps, /proc/vmstat and the mTHP counters."""
        rows = {r["filename"]: r for r in proc_swaps()}
        io = vmstat()
        mthp = read_mthp_stats(self.mthp_stats) if self.mthp_stats is not None else None
        invariant = self._model_invariant()
        problems = self._compare_pages(seen) + self._compare_devices(rows)
        problems += self._compare_totals(rows, io, mi, mthp) + invariant
        if problems:
            raise KernelDivergence("; ".join(problems[:8]))

    def _model_invariant(self) -> list[str]:
        try:
            self.world.ref.check_invariants()
        except AssertionError as err:
            return [f"model invariant: {err}"]
        return []

    def _compare_pages(self, seen: dict[str, ProcessView]) -> list[str]:
        problems = []
        for proc, view in seen.items():
            mpages = self.world.procs.get(proc)
            if mpages is None:
                problems.append(f"process {proc} unknown to the model")
                continue
            kents = [swap_entry(w) for w in view.anon]
            ments = [self._model_entry(st) for st in mpages]
            mres = [self._resident(st) for st in mpages]
            if kents == ments and view.anon_in == mres:
                continue
            for p, (kent, ment) in enumerate(zip(kents, ments)):
                if kent != ment:
                    problems.append(f"{proc} page {p}: kernel entry {kent}, model {ment}")
                elif view.anon_in[p] != mres[p]:
                    problems.append(f"{proc} page {p}: kernel mincore {view.anon_in[p]}, model {mres[p]}")
        return problems + self._compare_shm(seen) + self._compare_large(seen[HELPER])

    def _compare_large(self, view: ProcessView) -> list[str]:
        """The large region: each page's swap entry, mincore, and the folio shape kpageflags
        shows (head/tail of one physically contiguous folio, order 0, the zero page)."""
        w = self.world
        if not w.large:
            return []
        problems = []
        kinds = view.large_kinds
        for p, st in enumerate(w.large):
            ment, mshape, kind = self._model_entry(st), w.large_shape(p), kinds[p]
            kent, kshape = swap_entry(view.large[p]), kind[0] if kind else None
            if kent != ment or kshape != mshape:
                problems.append(f"large page {p}: kernel entry {kent} {kshape}, model {ment} {mshape}")
            elif view.large_in[p] != self._resident(st):
                problems.append(
                    f"large page {p}: kernel mincore {view.large_in[p]}, model {self._resident(st)}"
                )
            elif mshape == "tail":
                head = kinds[p - p % w.large_nr]
                if head is None or kind is None or kind[1] - head[1] != p % w.large_nr:
                    problems.append(f"large page {p}: not in its block's contiguous folio (kernel {kind})")
        return problems

    def _compare_shm(self, seen: dict[str, ProcessView]) -> list[str]:
        """The shmem pages: no pte ever holds their swap entries (the file does), the helper's
        ptes are present exactly where the model maps them, and residency in every process."""
        w = self.world
        problems = []
        mres = [w.shm_resident(p) for p in range(w.shm_pages)]
        for proc, view in seen.items():
            mapped = w.shm_mapped if proc == HELPER else [False] * w.shm_pages
            kpresent = [bool(word & PM_PRESENT) for word in view.shm]
            clean = not any(swap_entry(word) for word in view.shm)
            if clean and kpresent == list(mapped) and view.shm_in == mres:
                continue
            for p, word in enumerate(view.shm):
                kent, present = swap_entry(word), kpresent[p]
                if kent is not None or present != mapped[p]:
                    problems.append(
                        f"{proc} shmem page {p}: kernel pte entry {kent} present {present}, "
                        f"model present {mapped[p]}"
                    )
                elif view.shm_in[p] != mres[p]:
                    problems.append(
                        f"{proc} shmem page {p}: kernel mincore {view.shm_in[p]}, model {mres[p]}"
                    )
        return problems

    def _lane_paths(self) -> set[str]:
        return {str(d.path) for d in self.devices.values()}

    def _compare_devices(self, rows: dict[str, dict[str, Any]]) -> list[str]:
        problems = []
        for type, lane_dev in self.devices.items():
            row = rows.get(str(lane_dev.path))
            dev = self.world.ref.device(type)
            if row is None or dev is None:
                problems.append(f"device type {type}: kernel row {row}, model {dev}")
                continue
            if row["used"] != dev.inuse * KIB:
                problems.append(f"type {type} Used: kernel {row['used']} KiB, model inuse {dev.inuse} pages")
            if row["size"] != dev.pages * KIB:
                problems.append(f"type {type} Size: kernel {row['size']} KiB, model pages {dev.pages}")
            if row["priority"] != dev.priority:
                problems.append(f"type {type} Priority: kernel {row['priority']}, model {dev.priority}")
        lane_paths = self._lane_paths()
        stray = [name for name in rows if name.startswith(f"{LANE_DIR}/") and name not in lane_paths]
        if stray:
            problems.append(f"lane devices swapped on in the kernel only: {stray}")
        return problems

    def _compare_totals(
        self,
        rows: dict[str, dict[str, Any]],
        io: dict[str, int],
        mi: dict[str, int],
        mthp: dict[str, int] | None,
    ) -> list[str]:
        w = self.world
        problems = []
        reads, writes = io["pswpin"] - self.io_base[0], io["pswpout"] - self.io_base[1]
        if (reads, writes) != (w.reads, w.writes):
            problems.append(
                f"swap I/O since start: kernel pswpin {reads} pswpout {writes}, "
                f"model reads {w.reads} writes {w.writes} (another task swapping?)"
            )
        zero = {name: io.get(name, 0) - base for name, base in self.zero_base.items()}
        if any(zero.values()):
            problems.append(f"zero-filled swap I/O since start: kernel {zero}, model none")
        if mthp is not None:
            kernel = {k: mthp[k] - self.mthp_base[k] for k in MTHP_COMPARED}
            if kernel != w.mthp:
                problems.append(
                    f"mTHP stats since start: kernel {kernel}, model {w.mthp} (another task "
                    "faulting MADV_HUGEPAGE memory, e.g. a QEMU guest not started by swapdiff?)"
                )
        if mi["SwapCached"] != w.swap_cached_pages() * KIB:
            problems.append(f"SwapCached: kernel {mi['SwapCached']} KiB, model {w.swap_cached_pages()} pages")
        if mi["SwapTotal"] - self.others_total != w.ref.total_swap_pages() * KIB:
            problems.append(
                f"SwapTotal: kernel {mi['SwapTotal']} KiB, model {w.ref.total_swap_pages()} pages"
            )
        lane_paths = self._lane_paths()
        others_free = self.others_total - sum(r["used"] for name, r in rows.items() if name not in lane_paths)
        if signed_kib(mi["SwapFree"]) - others_free - self.swapfree_offset != w.ref.nr_swap_pages() * KIB:
            off = f" ({self.swapfree_offset} KiB off before the run)" if self.swapfree_offset else ""
            problems.append(
                f"SwapFree: kernel {mi['SwapFree']} KiB{off}, model {w.ref.nr_swap_pages()} pages"
            )
        return problems


def _compared(lane: Lane) -> str | None:
    """`lane.compare()`'s divergence as text, None where kernel and model agree."""
    try:
        lane.compare()
    except (KernelDivergence, SwapContractError) as err:
        return str(err)
    return None


def _write_divergence(
    out: Path, seed: int, header: dict[str, Any], divergence: str, done: list[dict[str, Any]]
) -> str:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"kernel-divergence-seed{seed}.jsonl"
    write_kernel_trace(path, {**header, "divergence": divergence}, done)
    return str(path)


def run_lane(
    *,
    seed: int = 0,
    steps: int | None = None,
    seconds: float | None = None,
    npages: int = DEFAULT_PAGES,
    shm_pages: int = DEFAULT_SHM_PAGES,
    allow_existing: bool = False,
    out: Path | None = None,
    replay: list[dict[str, Any]] | None = None,
    semantics: str = "6.18",
    mthp_kb: int = 0,
    large_folios: int = DEFAULT_LARGE_FOLIOS,
    hib_share: float = HIB_SHARE,
    record: Path | None = None,
    device_pages: int = DEVICE_PAGES,
    ballast: int = 0,
) -> LaneResult:
    """Run random actions (or `replay`) on the kernel and the model; stop at the first divergence.
    With `mthp_kb` the helper also holds `large_folios` folios of that mTHP size.  `hib_share`
    of the random actions take hibernation slots where /dev/snapshot exists (0: never);
    `device_pages` is the first device's size (a small one lets swap be more than half used,
    where random allocating actions pass `fill_guard`); the last `ballast` of the `npages`
    pages are paged out by the first action and never touched again, and no device is swapped
    on or off, so that the first device stays about as full as the ballast makes it.  With
    `record` the run's trace goes there with the kernel's observations after every step (also
    when it diverged: the recording's last step is the diverging one)."""
    if semantics not in RULES:
        raise ValueError(f"unknown kernel semantics {semantics!r} (known: {', '.join(RULES)})")
    rng = random.Random(seed)
    done: list[dict[str, Any]] = []
    divergence = detail = None
    trace_path = None
    full_steps = trimmed = 0
    if not mthp_kb:
        large_folios = 0
    replays_hib = replay is not None and any(a["op"] in HIB_OPS for a in replay)
    if replays_hib and not SNAPSHOT.exists():  # before taking the host's swap
        raise KernelUnavailable(f"this trace takes hibernation slots, but there is no {SNAPSHOT}")
    with KernelHost(allow_existing=allow_existing, mthp_kb=mthp_kb) as host:
        paused = len(host.paused_damon)
        lane = Lane(
            host,
            npages,
            shm_pages,
            large_folios,
            semantics,
            hibernation=hib_share > 0 or replays_hib,
            device_pages=device_pages,
        )
        share = hib_share if lane.hib_available else 0.0
        # the budget is the lane's: waiting for the host's locks (another run, QEMU guests
        # holding the hugepage lock against an --mthp run) and the setup do not spend it
        t0 = time.monotonic()
        first_device = dict(lane.last_swapon)
        del first_device["rc"]
        observed: list[dict[str, Any]] = []
        try:
            if replays_hib and not lane.hib_available:
                raise KernelUnavailable(f"this trace takes hibernation slots, but {lane.hib_note}")
            detail = lane.setup_divergence or _compared(lane)
            if detail is not None:
                divergence = f"setup (swapon of the lane's first device, {device_pages} pages): {detail}"
            next_child = 1
            while divergence is None:
                if replay is not None:
                    if len(done) >= len(replay):
                        break
                    action = replay[len(done)]
                else:
                    if steps is not None and len(done) >= steps:
                        break
                    if seconds is not None and time.monotonic() - t0 >= seconds:
                        break
                    types = sorted(lane.devices)
                    drawn = draw_action(
                        rng, lane.world, len(done), next_child, types, lane.blkdevs(), share, ballast
                    )
                    action = fill_guard(drawn, lane.world, types)
                    trimmed += action is not drawn
                if action["op"] == "fork":
                    next_child = max(next_child, action["child"] + 1)
                done.append(action)
                try:
                    lane.step(action)
                except (KernelDivergence, SwapContractError) as err:
                    detail = str(err)
                    divergence = f"step {len(done) - 1} {action}: {detail}"
                else:
                    ref = lane.world.ref
                    full_steps += vm_swap_full(ref.nr_swap_pages(), ref.total_swap_pages())
                finally:
                    if record is not None:
                        observed.append(lane.observed())
                        if action["op"] == "swapon":
                            observed[-1]["swapon"] = {k: lane.last_swapon[k] for k in ("rc", "solidstate")}
                if divergence is not None:
                    break
            # before the teardown: a kernel that then hangs in swapoff (slots it leaked) or
            # panics still leaves the trace of what it did wrong
            if divergence is not None and out is not None:
                header = kernel_header(
                    seed, npages, paused, semantics, shm_pages, mthp_kb, large_folios, share,
                    device_pages, ballast,
                )  # fmt: skip
                trace_path = _write_divergence(out, seed, header, divergence, done)
        finally:
            lane.close()
    if record is not None:
        header = kernel_header(
            seed, npages, paused, semantics, shm_pages, mthp_kb, large_folios, share, device_pages, ballast
        )
        header["first_device"] = first_device
        header["divergence"] = divergence
        recs = [{**a, "observed": o} for a, o in zip(done, observed, strict=True)]
        write_kernel_trace(record, header, recs)
    mthp = dict(lane.world.mthp) if lane.world.large else None
    ops = dict(Counter(a["op"] for a in done))
    return LaneResult(
        len(done),
        time.monotonic() - t0,
        divergence,
        trace_path,
        lane.world.fault_frees,
        lane.world.swap_full_frees,
        full_steps,
        trimmed,
        paused,
        mthp,
        ops,
        dict(lane.world.shm_events),
        hib=dict(lane.world.hib) if lane.hib_available else None,
        hib_note=lane.hib_note,
        divergence_step=len(done) - 1 if divergence is not None and done else None,
        divergence_detail=detail,
        swapfree_offset=lane.swapfree_offset,
    )


def shrink(
    actions: list[dict[str, Any]],
    *,
    npages: int = DEFAULT_PAGES,
    shm_pages: int = DEFAULT_SHM_PAGES,
    max_seconds: float = 120.0,
    mthp_kb: int = 0,
    large_folios: int = 0,
    semantics: str = "6.18",
    device_pages: int = DEVICE_PAGES,
) -> list[dict[str, Any]]:
    """Delta-debug a diverging action list to a shorter one that still diverges (any divergence)
    under the same rule set."""
    t0 = time.monotonic()

    def diverges(cand: list[dict[str, Any]]) -> bool:
        large = large_pages(mthp_kb, large_folios)
        if check_actions(cand, npages, shm_pages, large, first_blkdev=large[0] > 0) is not None:
            return False
        run = run_lane(
            replay=cand,
            npages=npages,
            shm_pages=shm_pages,
            mthp_kb=mthp_kb,
            large_folios=large_folios,
            semantics=semantics,
            device_pages=device_pages,
        )
        return run.divergence_step is not None  # at a step: a setup divergence reproduces nothing

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


__all__ = ["Entry", "KernelDivergence", "Lane", "LaneResult", "ModelWorld", "run_lane", "shrink"]
