"""The World: "the rest of mm" that drives the swap API the way the kernel does, and its actions.

The world owns processes with page tables (each entry maps a folio page or holds a swap
entry), shmem-like objects that own whole folios or whole-folio swap entries, hibernation
slots and the set of swap devices.  Each action is one realistic workflow (fault in a folio,
fork, reclaim, swap-in, zap, swapoff with a real unuse pass, ...) made of API calls issued
through an `Executor`, so the same world drives one implementation, two in lockstep, or a
recorder.  Every action stays inside the API contract except the `misuse_*` actions, which
break one precondition on purpose and expect a `SwapContractError`.

The world holds exactly one reference per swap-count unit it created (a swap page-table
entry, a shmem swap entry, a hibernation slot), so its puts never go below zero.  What the
implementation may change behind its back (folios reclaimed from the swap cache by a scan, a
zap or the reclaim work) it learns with `folio_entry` queries right after such calls.
Randomness comes only from the `Chooser`; iteration is over insertion-ordered dicts, so a
seed gives the same calls everywhere.

Actions register themselves: a `World._act_<name>` method decorated `@action(when=<condition>)`
is the action `<name>`, and a condition is a function decorated `@condition`.  Profiles weight
actions by name (`fuzz.workloads`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from fuzz.boundaries import (
    BOUNDARY_P,
    FOLIO_ID_LIMITS,
    WORD_BITS,
    draw_count_target,
    draw_int,
    draw_shadow,
    near,
)
from fuzz.choosers import Chooser, WeightTable
from fuzz.workloads import get_profile
from fuzz.world.executors import Executor, MisuseAccepted
from fuzz.world.geometry import DeviceSpec, Geometry, draw_device
from fuzz.world.registry import (
    ACTIONS,
    CONDITIONS,
    Condition,
    action,
    active_device,
    always,
    cached,
    cached_mapped,
    cached_unlocked,
    can_fanout,
    can_fork,
    devices,
    hib,
    hib_misuse,
    hib_room,
    large_swap_ptes,
    locked,
    processes,
    releasable,
    room,
    shmem,
    shmem_folio,
    shmem_swap,
    startable,
    swap_ptes,
    swapping_off,
    uncached,
    uncached_mapped,
    writeback,
)
from fuzz.world.state import (
    _CACHED,
    _CROWDED_BOOST,
    _LOCKED,
    _MAPPED,
    _SHMEM,
    _TABLE_CACHE_LIMIT,
    _WRITEBACK,
    HIB_FREED_MEMORY,
    MAX_FANOUT_PROCESSES,
    MAX_PROCESSES,
    PAGE,
    RECLAIMING_CALLS,
    SWAP,
    Device,
    Folio,
    Process,
    Shmem,
    Summary,
)
from reference.api import (
    EBUSY,
    VALUE_LIMIT,
    Call,
    Entry,
    SwapContractError,
    pmd_order,
)


class World:
    """The model of the rest of mm; see the module docstring."""

    def __init__(
        self,
        geometry: Geometry,
        executor: Executor,
        *,
        profile: str = "default",
        disabled: frozenset[str] = frozenset(),
        boundary_p: float = BOUNDARY_P,
        large_order_p: float | None = None,
    ) -> None:
        unknown = set(disabled) - set(ACTION_NAMES)
        if unknown:
            raise ValueError(f"unknown world action(s) to disable: {', '.join(sorted(unknown))}")
        self.geometry = geometry
        # Actions this world never picks (a swarm episode's subset, fuzz.swarm), and how often
        # the integers it passes are boundary values (fuzz.boundaries; a swarm knob too).
        self.disabled = frozenset(disabled)
        self.boundary_p = boundary_p
        self.executor = executor
        self.profile = get_profile(profile)
        # The chance that a new folio is large: the profile's unless a swarm sets it.
        self.large_order_p = self.profile.large_order_p if large_order_p is None else large_order_p
        self.cluster_size = geometry.cluster_size
        self.pmd_order = pmd_order(geometry.cluster_size)
        self.devices: dict[int, Device] = {}
        self.processes: dict[int, Process] = {}
        self.folios: dict[int, Folio] = {}
        self.shmem: dict[int, Shmem] = {}
        self.hib: list[Entry] = []
        self.hib_freed: list[Entry] = []
        self.pm_suspended = False
        self.rule_counts: Counter[str] = Counter()
        # Surprises of the world's own bookkeeping (a contract error on a call it believed
        # legal, an unknown folio id): recorded, never raised, so a campaign keeps going.
        self.anomalies: Counter[str] = Counter()
        self._next_folio = 1
        # The chooser of the action running now: fresh folio ids draw boundary ids from it.
        self._chooser: Chooser | None = None
        self._next_pid = 1
        self._next_shmem = 1
        self._live_pages = 0
        total = sum(d.size for d in geometry.devices) or geometry.cluster_size
        self.page_budget = max(64, 3 * total)
        # Per-step bookkeeping kept incrementally (see `_summary`).
        self._folio_states: Counter[int] = Counter()
        self._swap_ptes = 0
        # The profile's positive weights in pick order, computed once; the conditions those
        # actions need; and one WeightTable per tuple of condition values seen so far.
        self._weighted = [
            (name, weight, _CONDITION_INDEX[ACTIONS[name].when.__name__])
            for name in ACTION_NAMES
            if name not in self.disabled and (weight := self.profile.weight(name)) > 0
        ]
        self._tables: dict[tuple[bool, ...], WeightTable] = {}

    # ---- public interface ----

    def setup(self) -> None:
        """Swap on every device of the geometry."""
        for spec in self.geometry.devices:
            self._swapon(spec)

    def actions(self) -> list[str]:
        """Every action name, misuse ones included."""
        return list(ACTION_NAMES)

    def step(self, chooser: Chooser) -> str:
        """Pick an enabled action by profile weight, run it, and return its name."""
        name = chooser.weighted(self._enabled_table())
        self.run_action(name, chooser)
        return name

    def run_action(self, name: str, chooser: Chooser) -> None:
        """Run one action (a no-op when it finds nothing to act on)."""
        spec = ACTIONS.get(name)
        if spec is None:
            raise ValueError(f"unknown world action {name!r}")
        self._chooser = chooser
        try:
            performed = spec.run(self, chooser)
        except SwapContractError as err:
            # The world believed this call legal; both implementations disagreed the same way
            # (else the lockstep executor would have raised).  Resynchronise and go on.
            self.anomalies[f"{name}: unexpected contract error {err.code}"] += 1
            self._resync()
            performed = True
        if performed:
            self.rule_counts[name] += 1

    def enabled_weights(self) -> dict[str, float]:
        """The profile weight of every action that can do something now."""
        return dict(self._enabled_table())

    def _enabled_table(self) -> WeightTable:
        """The weights of the enabled actions, cached per tuple of condition values."""
        key = self._condition_values()
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= _TABLE_CACHE_LIMIT:
                self._tables.clear()
            table = self._tables[key] = WeightTable(self._weights_for(key))
        return table

    def _weights_for(self, key: tuple[bool, ...]) -> dict[str, float]:
        crowded = self._live_pages >= self.page_budget
        weights = {
            name: weight * 4 if crowded and name in _CROWDED_BOOST else weight
            for name, weight, index in self._weighted
            if key[index]
        }
        if not weights and self.disabled:
            # A swarm subset can leave nothing enabled in some state (memory full of shmem
            # with zap and truncate off): then the whole profile picks, so no world gets stuck.
            weights = {
                name: weight
                for name in ACTION_NAMES
                if key[_CONDITION_INDEX[ACTIONS[name].when.__name__]]
                and (weight := self.profile.weight(name)) > 0
            }
        return weights

    def _condition_values(self) -> tuple[bool, ...]:
        """The value of every condition of CONDITION_NAMES, in that order, and crowding."""
        s = self._summary()
        # Crowding is not a condition, but it changes the weights, so it is part of the key.
        return (*(cond(self, s) for cond in _CONDITION_FUNCS), self._live_pages >= self.page_budget)

    def expected_counts(self) -> Counter[Entry]:
        """The swap count of every slot the world holds references to (for self-checks)."""
        counts: Counter[Entry] = Counter()
        for proc in self.processes.values():
            for kind, a, b in proc.pt.values():
                if kind == SWAP:
                    counts[Entry(a, b)] += 1
        for obj in self.shmem.values():
            if obj.entry is not None:
                for i in range(1 << obj.order):
                    counts[Entry(obj.entry.type, obj.entry.offset + i)] += 1
        for entry in self.hib:
            counts[entry] += 1
        return counts

    @property
    def live_pages(self) -> int:
        return self._live_pages

    # ---- calls and bookkeeping helpers ----

    def _call(self, name: str, **kwargs: Any) -> Any:
        result = self.executor.call(Call(name, kwargs))
        if name == "swap_put_entries_direct":
            # A zap reclaims only folios caching slots of the put range (semantics 2.6), so
            # only those are asked about: a count driven to hundreds is put one call per
            # reference, and asking about every cached folio each time made zaps quadratic.
            entry, nr = kwargs["entry"], kwargs["nr"]
            self._resync(
                lambda e, n: (
                    e.type == entry.type and e.offset < entry.offset + nr and entry.offset < e.offset + n
                )
            )
        elif name in RECLAIMING_CALLS:
            self._resync()
        return result

    def _misuse(self, name: str, **kwargs: Any) -> bool:
        call = Call(name, kwargs)
        try:
            result = self.executor.call(call)
        except SwapContractError:
            return True
        raise MisuseAccepted(f"misuse call {call} returned {result!r} instead of raising SwapContractError")

    def _resync(self, overlaps: Callable[[Entry, int], bool] | None = None) -> None:
        """Learn which folios the implementation dropped from the swap cache by itself (only
        those whose slots `overlaps(first entry, nr)` accepts, when given)."""
        for f in [
            f
            for f in self.folios.values()
            if f.entry is not None
            and not f.locked
            and not f.writeback
            and (overlaps is None or overlaps(f.entry, f.nr))
        ]:
            if self.executor.call(Call("folio_entry", {"folio": f.id})) is None:
                f.entry = None
                self._settle(f)

    def _fresh_id(self) -> int:
        """An id no live folio has: usually the next of a counter, sometimes an id at the
        boundaries of the folio-id field (up to the contract's largest id)."""
        chooser = self._chooser
        if chooser is not None and chooser.boolean(self.boundary_p / 2):
            fid = chooser.choice(near(FOLIO_ID_LIMITS, 1, VALUE_LIMIT - 1))
            if fid not in self.folios:
                return fid
        fid = self._next_folio
        while fid in self.folios:  # a boundary id the counter reached
            fid += 1
        self._next_folio = fid + 1
        return fid

    def _register(self, fid: int, order: int, entry: Entry | None = None) -> Folio:
        folio = Folio(fid, order, entry)
        folio.track(self._folio_states)
        self.folios[fid] = folio
        self._live_pages += folio.nr
        return folio

    def _new_folio(self, order: int) -> Folio:
        fid = self._fresh_id()
        self._call("folio_new", folio=fid, order=order)
        return self._register(fid, order)

    def _settle(self, f: Folio) -> None:
        """Drop a folio nobody holds; keep its mapped flag equal to the world's view."""
        if f.id not in self.folios:
            return
        if f.entry is None and not f.rmap and f.shmem is None:
            self._call("folio_drop", folio=f.id)
            del self.folios[f.id]
            f.track(None)
            self._live_pages -= f.nr
            return
        want = bool(f.rmap) or (f.shmem is not None and self.shmem[f.shmem].mmapped)
        if want != f.mapped:
            self._call("folio_set", folio=f.id, mapped=want)
            f.mapped = want

    def _set_flag(self, f: Folio, **flags: bool) -> None:
        self._call("folio_set", folio=f.id, **flags)
        for key, value in flags.items():
            setattr(f, key, value)

    def _set_pte(self, proc: Process, vpn: int, pte: tuple[int, int, int]) -> None:
        old = proc.pt.get(vpn)
        if old is not None and old[0] == SWAP:
            proc.nswap -= 1
            self._swap_ptes -= 1
        proc.pt[vpn] = pte
        if pte[0] == SWAP:
            proc.nswap += 1
            self._swap_ptes += 1

    def _pop_pte(self, proc: Process, vpn: int) -> tuple[int, int, int]:
        pte = proc.pt.pop(vpn)
        if pte[0] == SWAP:
            proc.nswap -= 1
            self._swap_ptes -= 1
        return pte

    def _new_process(self) -> Process:
        proc = Process(self._next_pid)
        self._next_pid += 1
        self.processes[proc.pid] = proc
        return proc

    def _device_max(self, type: int) -> int:
        return self.devices[type].spec.size

    def _order(self, chooser: Chooser) -> int:
        if self.pmd_order == 0 or not chooser.boolean(self.large_order_p):
            return 0
        return draw_int(chooser, 1, self.pmd_order, (self.pmd_order,), p=self.boundary_p)

    def _summary(self) -> Summary:
        """The counts the enabled-predicates read, from the folio state counter."""
        s = Summary()
        for state, n in self._folio_states.items():
            if not n:
                continue
            mapped = state & _MAPPED
            locked = state & _LOCKED
            if state & _CACHED:
                s.cached += n
                if not locked:
                    s.cached_unlocked += n
                    if mapped:
                        s.cached_mapped += n
                if state & _WRITEBACK:
                    s.writeback += n
                else:
                    s.not_writeback_cached += n
                    if not locked:
                        s.startable += n
                        if not mapped and not state & _SHMEM:
                            s.releasable += n
            else:
                s.uncached += n
                if mapped and not locked:
                    s.uncached_mapped += n
            if locked:
                s.locked += n
        s.swap_ptes = self._swap_ptes
        for obj in self.shmem.values():
            if obj.entry is not None:
                s.shmem_swap += 1
            else:
                s.shmem_folio += 1
        return s

    def _summary_from_scratch(self) -> Summary:
        """`_summary` recomputed from the folios themselves (the tests compare the two)."""
        states = Counter(f.state for f in self.folios.values())
        saved, self._folio_states = self._folio_states, states
        saved_ptes, self._swap_ptes = (
            self._swap_ptes,
            sum(1 for p in self.processes.values() for pte in p.pt.values() if pte[0] == SWAP),
        )
        try:
            return self._summary()
        finally:
            self._folio_states, self._swap_ptes = saved, saved_ptes

    def _pick(self, chooser: Chooser, items: list) -> Any:
        return chooser.choice(items) if items else None

    def _swap_process(self, chooser: Chooser) -> Process | None:
        return self._pick(chooser, [p for p in self.processes.values() if p.nswap])

    def _swap_vpns(self, proc: Process, type: int | None = None) -> list[int]:
        return sorted(
            vpn
            for vpn, pte in proc.pt.items()
            if pte[0] == SWAP and (type is None or self._on_device(Entry(pte[1], pte[2]), type))
        )

    def _on_device(self, entry: Entry, type: int) -> bool:
        """Whether logical `entry` occupies device `type` in an implementation behind the
        executor: at the accounting level the candidate may hold it on another device than
        the reference (fuzz.accounting), and swapoff's unuse pass must empty the device on
        both sides."""
        if entry.type == type:
            return True
        held_on = getattr(self.executor, "held_on", None)
        return held_on is not None and held_on(entry, type)

    # ---- devices ----

    def _swapon(self, spec: DeviceSpec) -> int:
        result = self.executor.call(spec.swapon_call())
        if isinstance(result, int) and result >= 0:
            self.devices[result] = Device(result, spec)
        return result

    # ---- the workflows shared by several actions ----

    def _alloc_swap(self, f: Folio, chooser: Chooser) -> bool:
        """folio_alloc_swap; a large anonymous folio that gets -ENOMEM may be split."""
        result = self._call("folio_alloc_swap", folio=f.id, charge_fails=chooser.boolean(0.05))
        if result == 0:
            f.entry = self._call("folio_entry", folio=f.id)
            if f.entry is None:
                self.anomalies["folio_alloc_swap returned 0 but the folio has no entry"] += 1
            return f.entry is not None
        if f.order > 0 and f.shmem is None and chooser.boolean(0.5):
            self._split(f)
        return False

    def _split(self, f: Folio) -> None:
        """Split a large uncached folio into order-0 folios, as reclaim does after -ENOMEM."""
        pages = [self._new_folio(0) for _ in range(f.nr)]
        for (pid, vpn), idx in list(f.rmap.items()):
            page = pages[idx]
            self._set_pte(self.processes[pid], vpn, (PAGE, page.id, 0))
            page.rmap[(pid, vpn)] = 0
        f.rmap.clear()
        self._settle(f)
        for page in pages:
            self._settle(page)

    def _unmap(self, f: Folio, chooser: Chooser) -> None:
        """Reclaim's unmap: turn page-table entries mapping `f` into swap entries, one
        folio_dup_swap per page or per whole folio.  A failed dup stops the unmap."""
        assert f.entry is not None
        alloc_fails = chooser.boolean(0.1)
        by_page: dict[int, list[tuple[int, int]]] = {}
        for key, idx in f.rmap.items():
            by_page.setdefault(idx, []).append(key)
        if chooser.boolean(0.5):
            while len(by_page) == f.nr and all(by_page.values()):
                if self._call("folio_dup_swap", folio=f.id, page=None, alloc_fails=alloc_fails) != 0:
                    self._settle(f)
                    return
                for idx in range(f.nr):
                    self._swap_out_pte(f, by_page[idx].pop(0), idx)
                by_page = {i: keys for i, keys in by_page.items() if keys}
        for idx, keys in by_page.items():
            for key in keys:
                if self._call("folio_dup_swap", folio=f.id, page=idx, alloc_fails=alloc_fails) != 0:
                    self._settle(f)
                    return
                self._swap_out_pte(f, key, idx)
        self._settle(f)

    def _swap_out_pte(self, f: Folio, key: tuple[int, int], idx: int) -> None:
        assert f.entry is not None
        pid, vpn = key
        del f.rmap[key]
        self._set_pte(self.processes[pid], vpn, (SWAP, f.entry.type, f.entry.offset + idx))

    def _release(self, f: Folio, chooser: Chooser) -> None:
        """Reclaim's last step: drop a clean, unmapped folio from the cache with a shadow."""
        self._call("swap_cache_del_folio", folio=f.id, shadow=draw_shadow(chooser, p=self.boundary_p))
        f.entry = None
        self._settle(f)

    def _fault_in(self, proc: Process, vpn: int, chooser: Chooser, *, free_p: float, force: bool) -> bool:
        """Order-0 swap-in of one page-table entry: cache hit or a new folio, map, put, and
        maybe folio_free_swap.  `force` (swapoff) waits for a locked folio instead of giving
        up."""
        _, type, offset = proc.pt[vpn]
        entry = Entry(type, offset)
        fid = self._call("swap_cache_folio", entry=entry)
        if fid:
            f = self.folios.get(fid)
            if f is None or f.entry is None:
                self.anomalies["swap_cache_folio names a folio the world does not know as cached"] += 1
                return False
            if f.locked:
                if not force:
                    return False
                self._set_flag(f, locked=False)
        else:
            # A swap-in reads the slot's shadow for the workingset refault decision, so every
            # stored shadow (inline or escaped to side storage) is checked when it comes back.
            self._call("swap_shadow", entry=entry)
            new = self._fresh_id()
            got = self._call("swap_cache_alloc_folio", entry=entry, folio=new)
            if got == new:
                f = self._register(new, 0, entry)
            elif got in self.folios and self.folios[got].entry is not None:
                f = self.folios[got]
            else:
                self.anomalies[f"swap_cache_alloc_folio on a referenced slot returned {got!r}"] += 1
                return False
        assert f.entry is not None
        idx = offset - f.entry.offset
        self._set_pte(proc, vpn, (PAGE, f.id, idx))
        f.rmap[(proc.pid, vpn)] = idx
        page = None if f.nr == 1 and chooser.boolean(0.3) else idx
        self._call("folio_put_swap", folio=f.id, page=page)
        self._settle(f)
        if chooser.boolean(free_p):
            self._free_swap(f)
        return True

    def _free_swap(self, f: Folio) -> bool:
        if self._call("folio_free_swap", folio=f.id):
            f.entry = None
            self._settle(f)
            return True
        return False

    def _zap(self, proc: Process, vpns: list[int]) -> None:
        """Unmap a range: mapped pages go away, runs of consecutive swap entries are put with
        one swap_put_entries_direct each."""
        touched: dict[int, Folio] = {}
        batch: list[Entry] = []
        last_vpn = -2
        for vpn in vpns:
            kind, a, b = self._pop_pte(proc, vpn)
            if kind == PAGE:
                self._flush_zap(batch)
                f = self.folios[a]
                del f.rmap[(proc.pid, vpn)]
                touched[f.id] = f
            else:
                entry = Entry(a, b)
                if batch and not (
                    vpn == last_vpn + 1
                    and entry.type == batch[-1].type
                    and entry.offset == batch[-1].offset + 1
                ):
                    self._flush_zap(batch)
                batch.append(entry)
            last_vpn = vpn
        self._flush_zap(batch)
        for f in touched.values():
            self._settle(f)

    def _flush_zap(self, batch: list[Entry]) -> None:
        if batch:
            self._call("swap_put_entries_direct", entry=batch[0], nr=len(batch))
            batch.clear()

    def _exit(self, proc: Process) -> None:
        self._zap(proc, sorted(proc.pt))
        del self.processes[proc.pid]

    def _fork(self, parent: Process, chooser: Chooser) -> bool:
        """Copy a process: mapped pages are shared, swap entries dup'ed.  A failed dup
        (-ENOMEM on overflow storage) fails the fork and the child is torn down."""
        child = self._new_process()
        child.next_vpn = parent.next_vpn
        alloc_fails = chooser.boolean(0.15)
        for vpn, pte in list(parent.pt.items()):
            kind, a, b = pte
            if kind == SWAP:
                if self._call("swap_dup_entry_direct", entry=Entry(a, b), alloc_fails=alloc_fails) != 0:
                    self._exit(child)
                    return False
            else:
                self.folios[a].rmap[(child.pid, vpn)] = b
            self._set_pte(child, vpn, pte)
        return True

    def _shmem_swapin(self, obj: Shmem, chooser: Chooser, *, force: bool) -> bool:
        """Bring a shmem object's whole-folio entry back: a cache hit on a folio of the same
        range, else swapin_folio; order-0 readahead folios in the way are evicted first."""
        assert obj.entry is not None
        entry, nr = obj.entry, 1 << obj.order
        f = self._cached_whole(entry, obj.order)
        if f is None:
            new = self._fresh_id()
            got = self._call("swapin_folio", entry=entry, folio=new, order=obj.order)
            if got != new:
                if not self._evict_range(entry, nr, force=force):
                    return False
                new = self._fresh_id()
                got = self._call("swapin_folio", entry=entry, folio=new, order=obj.order)
                if got != new:
                    self.anomalies[f"swapin_folio of a whole shmem range returned {got!r}"] += 1
                    return False
            f = self._register(new, obj.order, entry)
        elif f.locked:
            if not force:
                return False
            self._set_flag(f, locked=False)
        self._call("folio_put_swap", folio=f.id, page=None)
        obj.entry, obj.folio, f.shmem = None, f.id, obj.id
        self._settle(f)
        if chooser.boolean(0.3 if not force else 1.0):
            self._free_swap(f)
        return True

    def _cached_whole(self, entry: Entry, order: int) -> Folio | None:
        fid = self._call("swap_cache_folio", entry=entry)
        f = self.folios.get(fid) if fid else None
        if f is not None and f.entry == entry and f.order == order and f.shmem is None and not f.rmap:
            return f
        return None

    def _evict_range(self, entry: Entry, nr: int, *, force: bool) -> bool:
        """Drop the unowned, unmapped folios caching slots of a range (readahead leftovers)."""
        for off in range(entry.offset, entry.offset + nr):
            fid = self._call("swap_cache_folio", entry=Entry(entry.type, off))
            if not fid:
                continue
            f = self.folios.get(fid)
            if f is None or f.entry is None or f.rmap or f.shmem is not None:
                return False
            if f.locked or f.writeback:
                if not force:
                    return False
                self._set_flag(f, locked=False, writeback=False)
            self._call("swap_cache_del_folio", folio=f.id, shadow=0)
            f.entry = None
            self._settle(f)
        return True

    def _unuse(self, type: int, chooser: Chooser, limit: int | None) -> int:
        """Swapoff's unuse pass over device `type`: swap every reference back in (page
        tables, shmem, hibernation), then drop its cached folios.  With `limit`, stop after
        that many references (a partial pass, before an abort)."""
        done = 0
        for proc in list(self.processes.values()):
            for vpn in self._swap_vpns(proc, type):
                if limit is not None and done >= limit:
                    return done
                if self._fault_in(proc, vpn, chooser, free_p=1.0, force=True):
                    done += 1
        for obj in list(self.shmem.values()):
            if obj.entry is not None and self._on_device(obj.entry, type):
                if limit is not None and done >= limit:
                    return done
                if self._shmem_swapin(obj, chooser, force=True):
                    done += 1
        for entry in [e for e in self.hib if self._on_device(e, type)]:
            if limit is not None and done >= limit:
                return done
            self._free_hib(entry)
            done += 1
        if limit is None:
            if self.pm_suspended:
                self._call("set_pm_suspended_storage", flag=False)
                self.pm_suspended = False
            cached = [f for f in self.folios.values() if f.entry and self._on_device(f.entry, type)]
            for f in cached:
                if f.entry is None:  # reclaimed by an earlier free in this loop
                    continue
                if f.locked or f.writeback:
                    self._set_flag(f, locked=False, writeback=False)
                if not self._free_swap(f):
                    self.anomalies["swapoff: folio_free_swap refused a folio after the unuse pass"] += 1
        return done

    def _free_hib(self, entry: Entry) -> None:
        self.hib.remove(entry)
        self._call("swap_free_hibernation_slot", entry=entry)
        self.hib_freed.append(entry)
        del self.hib_freed[:-HIB_FREED_MEMORY]

    # ---- actions: memory ----

    @action(when=room)
    def _act_anon_fault_new(self, chooser: Chooser) -> bool:
        procs = list(self.processes.values())
        if not procs or (len(procs) < MAX_PROCESSES and chooser.boolean(0.1)):
            proc = self._new_process()
        else:
            proc = chooser.choice(procs)
        f = self._new_folio(self._order(chooser))
        base = -(-proc.next_vpn // f.nr) * f.nr
        proc.next_vpn = base + f.nr + (1 if chooser.boolean(0.2) else 0)
        for i in range(f.nr):
            self._set_pte(proc, base + i, (PAGE, f.id, i))
            f.rmap[(proc.pid, base + i)] = i
        self._settle(f)
        return True

    @action(when=processes)
    def _act_zap(self, chooser: Chooser) -> bool:
        proc = self._pick(chooser, [p for p in self.processes.values() if p.pt])
        if proc is None:
            return False
        vpns = sorted(proc.pt)
        start = chooser.integer(0, len(vpns) - 1)
        # Range lengths around a cluster and a bitmap word, so batches cross their ends.
        length = draw_int(
            chooser, 1, min(64, len(vpns) - start), (self.cluster_size, WORD_BITS), p=self.boundary_p
        )
        self._zap(proc, vpns[start : start + length])
        return True

    @action(when=processes)
    def _act_exit(self, chooser: Chooser) -> bool:
        proc = self._pick(chooser, list(self.processes.values()))
        if proc is None:
            return False
        self._exit(proc)
        return True

    @action(when=can_fork)
    def _act_fork(self, chooser: Chooser) -> bool:
        parent = self._pick(chooser, list(self.processes.values()))
        if parent is None:
            return False
        self._fork(parent, chooser)
        return True

    @action(when=can_fanout)
    def _act_fork_fanout(self, chooser: Chooser) -> bool:
        parent = self._swap_process(chooser)
        if parent is None:
            return False
        for _ in range(chooser.integer(8, 16)):
            if len(self.processes) >= MAX_FANOUT_PROCESSES:
                break
            self._fork(parent, chooser)
        return True

    # ---- actions: reclaim ----

    @action(when=uncached_mapped)
    def _act_reclaim_full(self, chooser: Chooser) -> bool:
        """The whole of shrink_folio_list for one folio: allocate, unmap, write back, release."""
        f = self._pick(
            chooser, [f for f in self.folios.values() if f.entry is None and f.rmap and not f.locked]
        )
        if f is None:
            return False
        if not self._alloc_swap(f, chooser):
            return True
        self._unmap(f, chooser)
        if f.rmap or f.id not in self.folios:
            return True
        if chooser.boolean(0.5):
            self._set_flag(f, writeback=True)
            self._set_flag(f, writeback=False)
        if f.entry is not None:
            self._release(f, chooser)
        return True

    @action(when=uncached_mapped)
    def _act_reclaim_alloc(self, chooser: Chooser) -> bool:
        f = self._pick(
            chooser,
            [f for f in self.folios.values() if f.entry is None and f.rmap and not f.locked],
        )
        if f is None:
            return False
        self._alloc_swap(f, chooser)
        return True

    @action(when=cached_mapped)
    def _act_reclaim_unmap(self, chooser: Chooser) -> bool:
        f = self._pick(
            chooser, [f for f in self.folios.values() if f.entry is not None and f.rmap and not f.locked]
        )
        if f is None:
            return False
        self._unmap(f, chooser)
        return True

    @action(when=startable)
    def _act_writeback_start(self, chooser: Chooser) -> bool:
        f = self._pick(
            chooser,
            [f for f in self.folios.values() if f.entry is not None and not f.writeback and not f.locked],
        )
        if f is None:
            return False
        self._set_flag(f, writeback=True)
        return True

    @action(when=writeback)
    def _act_writeback_end(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.writeback])
        if f is None:
            return False
        self._set_flag(f, writeback=False)
        return True

    @action(when=releasable)
    def _act_reclaim_release(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, self._releasable())
        if f is None:
            return False
        self._release(f, chooser)
        return True

    def _releasable(self) -> list[Folio]:
        return [
            f
            for f in self.folios.values()
            if f.entry is not None and not f.rmap and f.shmem is None and not f.writeback and not f.locked
        ]

    @action(when=cached_unlocked)
    def _act_free_swap(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.entry is not None and not f.locked])
        if f is None:
            return False
        self._free_swap(f)
        return True

    # ---- actions: swap-in ----

    @action(when=swap_ptes)
    def _act_swapin_fault(self, chooser: Chooser) -> bool:
        proc = self._swap_process(chooser)
        if proc is None:
            return False
        vpn = chooser.choice(self._swap_vpns(proc))
        return self._fault_in(proc, vpn, chooser, free_p=0.4, force=False)

    @action(when=large_swap_ptes)
    def _act_swapin_large(self, chooser: Chooser) -> bool:
        """mTHP swap-in: the aligned page-table range around the fault holds consecutive
        entries of one aligned slot range, so one swapin_folio brings the whole folio in."""
        proc = self._swap_process(chooser)
        if proc is None or self.pmd_order == 0:
            return False
        vpn = chooser.choice(self._swap_vpns(proc))
        _, type, offset = proc.pt[vpn]
        for order in range(chooser.integer(1, self.pmd_order), 0, -1):
            nr = 1 << order
            base_vpn = vpn - vpn % nr
            base_off = offset - (vpn - base_vpn)
            if (
                base_off % nr == 0
                and all(proc.pt.get(base_vpn + i) == (SWAP, type, base_off + i) for i in range(nr))
                and self._contiguous_everywhere(Entry(type, base_off), nr)
            ):
                break
        else:
            return self._fault_in(proc, vpn, chooser, free_p=0.4, force=False)
        self._call("swap_shadow", entry=Entry(type, base_off))  # the refault check, as above
        new = self._fresh_id()
        if self._call("swapin_folio", entry=Entry(type, offset), folio=new, order=order) != new:
            return self._fault_in(proc, vpn, chooser, free_p=0.4, force=False)
        f = self._register(new, order, Entry(type, base_off))
        for i in range(nr):
            self._set_pte(proc, base_vpn + i, (PAGE, f.id, i))
            f.rmap[(proc.pid, base_vpn + i)] = i
        self._call("folio_put_swap", folio=f.id, page=None)
        self._settle(f)
        if chooser.boolean(0.4):
            self._free_swap(f)
        return True

    def _contiguous_everywhere(self, entry: Entry, nr: int) -> bool:
        """Whether every implementation behind the executor holds [entry, entry + nr) as one
        aligned range (at the accounting level the candidate's entries are its own, so the
        page table's contiguity is the reference's alone; fuzz.accounting)."""
        contiguous = getattr(self.executor, "contiguous", None)
        return contiguous is None or contiguous(entry, nr)

    @action(when=swap_ptes)
    def _act_readahead(self, chooser: Chooser) -> bool:
        """swap_cache_alloc_folio on the slots after a referenced entry: cache hits, new
        unmapped folios, or nothing for free and bad slots."""
        proc = self._swap_process(chooser)
        if proc is None:
            return False
        _, type, offset = proc.pt[chooser.choice(self._swap_vpns(proc))]
        first = max(0, offset - chooser.integer(0, 2))
        end = min(self._device_max(type), offset + chooser.integer(1, 8))
        for off in range(first, end):
            new = self._fresh_id()
            if self._call("swap_cache_alloc_folio", entry=Entry(type, off), folio=new) == new:
                self._register(new, 0, Entry(type, off))
        return True

    # ---- actions: shmem ----

    @action(when=room)
    def _act_shmem_create(self, chooser: Chooser) -> bool:
        f = self._new_folio(self._order(chooser))
        obj = Shmem(self._next_shmem, f.order, folio=f.id)
        self._next_shmem += 1
        self.shmem[obj.id] = obj
        f.shmem = obj.id
        return True

    @action(when=shmem_folio)
    def _act_shmem_writeout(self, chooser: Chooser) -> bool:
        """shmem writeout: whole-folio swap (one folio_dup_swap for every slot)."""
        candidates = [
            o
            for o in self.shmem.values()
            if o.folio is not None and not o.mmapped and not self.folios[o.folio].locked
        ]
        obj = self._pick(chooser, candidates)
        if obj is None:
            return False
        f = self.folios[obj.folio]
        if f.entry is None and not self._alloc_swap(f, chooser):
            return True
        if self._call("folio_dup_swap", folio=f.id, page=None, alloc_fails=chooser.boolean(0.1)) != 0:
            return True
        obj.entry, obj.folio, f.shmem = f.entry, None, None
        self._settle(f)
        if chooser.boolean(0.5) and not f.writeback:
            self._release(f, chooser)
        return True

    @action(when=shmem_swap)
    def _act_shmem_swapin(self, chooser: Chooser) -> bool:
        obj = self._pick(chooser, [o for o in self.shmem.values() if o.entry is not None])
        if obj is None:
            return False
        return self._shmem_swapin(obj, chooser, force=False)

    @action(when=shmem)
    def _act_shmem_truncate(self, chooser: Chooser) -> bool:
        obj = self._pick(chooser, list(self.shmem.values()))
        if obj is None:
            return False
        del self.shmem[obj.id]
        if obj.folio is not None:
            f = self.folios[obj.folio]
            f.shmem = None
            if f.entry is not None and not f.locked:
                self._free_swap(f)
            self._settle(f)
        else:
            assert obj.entry is not None
            self._call("swap_put_entries_direct", entry=obj.entry, nr=1 << obj.order)
        return True

    @action(when=shmem_folio)
    def _act_shmem_mmap(self, chooser: Chooser) -> bool:
        obj = self._pick(chooser, [o for o in self.shmem.values() if o.folio is not None])
        if obj is None:
            return False
        obj.mmapped = not obj.mmapped
        self._settle(self.folios[obj.folio])
        return True

    # ---- actions: hibernation ----

    @action(when=hib_room)
    def _act_hib_alloc(self, chooser: Chooser) -> bool:
        types = list(self.devices)
        if not types or chooser.boolean(0.05):
            type = chooser.integer(-1, self.geometry.max_swapfiles + 1)
        else:
            type = chooser.choice(types)
        entry = self._call("swap_alloc_hibernation_slot", type=type)
        if entry is not None:
            self.hib.append(entry)
        return True

    @action(when=hib)
    def _act_hib_free(self, chooser: Chooser) -> bool:
        if not self.hib:
            return False
        self._free_hib(chooser.choice(self.hib))
        return True

    @action(when=always)
    def _act_pm_toggle(self, chooser: Chooser) -> bool:
        self.pm_suspended = not self.pm_suspended
        self._call("set_pm_suspended_storage", flag=self.pm_suspended)
        return True

    # ---- actions: devices ----

    @action(when=always)
    def _act_swapon(self, chooser: Chooser) -> bool:
        self._swapon(draw_device(chooser, self.cluster_size))
        return True

    @action(when=always)
    def _act_swapon_invalid(self, chooser: Chooser) -> bool:
        """swapon with a bad value: -EINVAL (or -EPERM with no free type), nothing changes."""
        spec = draw_device(chooser, self.cluster_size)
        kind = chooser.integer(0, 5)
        if kind == 0:
            spec = DeviceSpec(spec.size, chooser.choice((-2, 32768, 40000)), spec.bad)
        elif kind == 1:
            spec = DeviceSpec(max(3, spec.size), bad=(1, 1))
        elif kind == 2:
            spec = DeviceSpec(chooser.integer(0, 1))
        elif kind == 3:
            spec = DeviceSpec(spec.size, bad=(spec.size,))
        elif kind == 4:
            spec = DeviceSpec(3, bad=(1, 2))
        else:
            spec = DeviceSpec(max(3, spec.size), bad=(1,), blkdev=False)
        result = self._swapon(spec)
        if result >= 0:
            self.anomalies["swapon accepted an invalid device"] += 1
        return True

    @action(when=active_device)
    def _act_swapoff_begin(self, chooser: Chooser) -> bool:
        dev = self._pick(chooser, [d for d in self.devices.values() if not d.swapping_off])
        if dev is None:
            return False
        if self._call("swapoff_begin", type=dev.type) == 0:
            dev.swapping_off = True
        else:
            self.anomalies["swapoff_begin refused an active device"] += 1
        return True

    def _swapping_off(self, chooser: Chooser) -> Device | None:
        return self._pick(chooser, [d for d in self.devices.values() if d.swapping_off])

    @action(when=swapping_off)
    def _act_swapoff_unuse(self, chooser: Chooser) -> bool:
        dev = self._swapping_off(chooser)
        if dev is None:
            return False
        self._unuse(dev.type, chooser, chooser.integer(1, 16))
        return True

    @action(when=swapping_off)
    def _act_swapoff_end(self, chooser: Chooser) -> bool:
        dev = self._swapping_off(chooser)
        if dev is None:
            return False
        self._unuse(dev.type, chooser, None)
        result = self._call("swapoff_end", type=dev.type)
        if result == 0:
            del self.devices[dev.type]
            self.hib_freed = [e for e in self.hib_freed if e.type != dev.type]
        elif result == -EBUSY:
            self.anomalies["swapoff_end: -EBUSY after a full unuse pass"] += 1
        return True

    @action(when=swapping_off)
    def _act_swapoff_abort(self, chooser: Chooser) -> bool:
        dev = self._swapping_off(chooser)
        if dev is None:
            return False
        if chooser.boolean(0.5):
            self._unuse(dev.type, chooser, chooser.integer(1, 8))
        if self._call("swapoff_abort", type=dev.type) == 0:
            dev.swapping_off = False
        return True

    @action(when=devices)
    def _act_discard_work(self, chooser: Chooser) -> bool:
        dev = self._pick(chooser, list(self.devices.values()))
        if dev is None:
            return False
        self._call("swap_discard_work", type=dev.type)
        return True

    @action(when=devices)
    def _act_reclaim_work(self, chooser: Chooser) -> bool:
        dev = self._pick(chooser, list(self.devices.values()))
        if dev is None:
            return False
        self._call("swap_reclaim_work", type=dev.type)
        return True

    # ---- actions: folio flags ----

    @action(when=cached_unlocked)
    def _act_flag_lock(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.entry is not None and not f.locked])
        if f is None:
            return False
        self._set_flag(f, locked=True)
        return True

    @action(when=locked)
    def _act_flag_unlock(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.locked])
        if f is None:
            return False
        self._set_flag(f, locked=False)
        return True

    # ---- actions: misuse (each breaks one precondition; a contract error is expected) ----

    def _random_entry(self, chooser: Chooser) -> Entry | None:
        dev = self._pick(chooser, list(self.devices.values()))
        if dev is None:
            return None
        return Entry(dev.type, chooser.integer(0, dev.spec.size - 1))

    def _zero_count_entry(self, chooser: Chooser) -> Entry | None:
        for _ in range(4):
            entry = self._random_entry(chooser)
            if entry is not None and self._call("swap_count", entry=entry) == 0:
                return entry
        return None

    @action(when=devices)
    def _act_misuse_put_zero(self, chooser: Chooser) -> bool:
        """A put below zero: folio_put_swap on a cached slot at count 0, else a direct put on a
        free (or bad) slot."""
        cached = [f for f in self.folios.values() if f.entry is not None]
        for _ in range(3 if cached else 0):
            f = chooser.choice(cached)
            assert f.entry is not None
            page = chooser.integer(0, f.nr - 1)
            if self._call("swap_count", entry=Entry(f.entry.type, f.entry.offset + page)) == 0:
                return self._misuse("folio_put_swap", folio=f.id, page=page)
        entry = self._zero_count_entry(chooser)
        return entry is not None and self._misuse("swap_put_entries_direct", entry=entry, nr=1)

    @action(when=devices)
    def _act_misuse_dup_free(self, chooser: Chooser) -> bool:
        entry = self._zero_count_entry(chooser)
        return entry is not None and self._misuse(
            "swap_dup_entry_direct", entry=entry, alloc_fails=chooser.boolean()
        )

    @action(when=devices)
    def _act_misuse_bad_slot(self, chooser: Chooser) -> bool:
        dev = self._pick(chooser, list(self.devices.values()))
        if dev is None:
            return False
        entry = Entry(dev.type, chooser.choice((0, *dev.spec.bad)))
        kind = chooser.integer(0, 3)
        if kind == 0:
            return self._misuse("swap_dup_entry_direct", entry=entry)
        if kind == 1:
            return self._misuse("swap_put_entries_direct", entry=entry, nr=1)
        if kind == 2:
            return self._misuse("swap_free_hibernation_slot", entry=entry)
        return self._misuse(
            "swapin_folio", entry=entry, folio=self._fresh_id(), order=chooser.integer(0, self.pmd_order)
        )

    @action(when=uncached)
    def _act_misuse_not_cached(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.entry is None])
        if f is None:
            return False
        kind = chooser.integer(0, 2)
        if kind == 0:
            return self._misuse("folio_dup_swap", folio=f.id, page=None)
        if kind == 1:
            return self._misuse("folio_put_swap", folio=f.id, page=chooser.integer(0, f.nr - 1))
        return self._misuse("swap_cache_del_folio", folio=f.id, shadow=0)

    @action(when=cached)
    def _act_misuse_cached_folio(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.entry is not None])
        if f is None:
            return False
        kind = chooser.integer(0, 4)
        if kind == 0:
            return self._misuse("folio_alloc_swap", folio=f.id)
        if kind == 1:
            return self._misuse("folio_drop", folio=f.id)
        if kind == 2:
            return self._misuse("folio_dup_swap", folio=f.id, page=f.nr + chooser.integer(0, 2))
        if kind == 3:
            return self._misuse("folio_put_swap", folio=f.id, page=f.nr)
        return self._misuse("swap_cache_del_folio", folio=f.id, shadow=chooser.choice((-1, VALUE_LIMIT)))

    @action(when=writeback)
    def _act_misuse_del_writeback(self, chooser: Chooser) -> bool:
        f = self._pick(chooser, [f for f in self.folios.values() if f.entry is not None and f.writeback])
        if f is None:
            return False
        return self._misuse("swap_cache_del_folio", folio=f.id, shadow=chooser.integer(0, 7))

    @action(when=always)
    def _act_misuse_folio_ids(self, chooser: Chooser) -> bool:
        kind = chooser.integer(0, 4)
        if kind == 0:
            return self._misuse("folio_new", folio=chooser.choice((0, -1, VALUE_LIMIT)), order=0)
        if kind == 1 and self.folios:
            return self._misuse("folio_new", folio=chooser.choice(list(self.folios)), order=0)
        if kind == 2:
            return self._misuse("folio_new", folio=self._fresh_id(), order=self.pmd_order + 1)
        if kind == 3:
            return self._misuse("folio_set", folio=self._fresh_id(), locked=True)
        return self._misuse("folio_entry", folio=self._fresh_id())

    @action(when=devices)
    def _act_misuse_out_of_range(self, chooser: Chooser) -> bool:
        dev = self._pick(chooser, list(self.devices.values()))
        if dev is None:
            return False
        top = dev.spec.size
        kind = chooser.integer(0, 3)
        if kind == 0:
            return self._misuse("swap_count", entry=Entry(dev.type, top + chooser.integer(0, 3)))
        if kind == 1:
            return self._misuse("swap_dup_entry_direct", entry=Entry(dev.type, top))
        if kind == 2:
            return self._misuse("swap_put_entries_direct", entry=Entry(dev.type, top - 1), nr=2)
        return self._misuse("swap_cache_alloc_folio", entry=Entry(dev.type, top), folio=self._fresh_id())

    @action(when=always)
    def _act_misuse_bad_type(self, chooser: Chooser) -> bool:
        unused = [t for t in range(self.geometry.max_swapfiles) if t not in self.devices]
        type = chooser.choice([*unused, self.geometry.max_swapfiles, -1])
        kind = chooser.integer(0, 3)
        if kind == 0:
            return self._misuse("swap_count", entry=Entry(type, 1))
        if kind == 1:
            return self._misuse("swap_dup_entry_direct", entry=Entry(type, 1))
        if kind == 2:
            return self._misuse("swapoff_end", type=type)
        return self._misuse("swap_reclaim_work", type=type)

    @action(when=hib_misuse)
    def _act_misuse_hib_free(self, chooser: Chooser) -> bool:
        """A double hibernation free, or a hibernation free of a shared (count >= 2) slot."""
        freed = [e for e in self.hib_freed if e.type in self.devices]
        if freed and chooser.boolean(0.7):
            entry = chooser.choice(freed)
        else:
            proc = self._swap_process(chooser)
            if proc is None:
                return False
            _, type, offset = proc.pt[chooser.choice(self._swap_vpns(proc))]
            entry = Entry(type, offset)
        if self._call("swap_count", entry=entry) == 1:
            return False  # a count of 1 would be a legal free
        return self._misuse("swap_free_hibernation_slot", entry=entry)

    @action(when=active_device)
    def _act_misuse_swapoff_state(self, chooser: Chooser) -> bool:
        dev = self._pick(chooser, [d for d in self.devices.values() if not d.swapping_off])
        if dev is None:
            return False
        name = chooser.choice(("swapoff_end", "swapoff_abort"))
        return self._misuse(name, type=dev.type)

    @action(when=devices)
    def _act_misuse_put_entries_nr(self, chooser: Chooser) -> bool:
        entry = self._random_entry(chooser)
        return entry is not None and self._misuse(
            "swap_put_entries_direct", entry=entry, nr=chooser.choice((0, -1))
        )

    # ---- actions: count boundaries ----

    @action(when=swap_ptes)
    def _act_dup_burst(self, chooser: Chooser) -> bool:
        """Drive one swap entry's count to a boundary (14, 15, 16, 31..33, 255..257): the
        process maps it again at new addresses, one swap_dup_entry_direct per mapping (as
        copies of a page-table range do).  A failed dup (overflow storage) ends the burst."""
        proc = self._swap_process(chooser)
        if proc is None:
            return False
        _, type, offset = proc.pt[chooser.choice(self._swap_vpns(proc))]
        entry = Entry(type, offset)
        target = draw_count_target(chooser)
        alloc_fails = chooser.boolean(0.1)
        count = self._call("swap_count", entry=entry)
        while count < target:
            if self._call("swap_dup_entry_direct", entry=entry, alloc_fails=alloc_fails) != 0:
                break
            self._set_pte(proc, proc.next_vpn, (SWAP, type, offset))
            proc.next_vpn += 1
            count += 1
        return True

    # ---- misuse: large ranges ----

    @action(when=devices)
    def _act_misuse_large_over_bad(self, chooser: Chooser) -> bool:
        """swapin_folio of a large range holding a BAD slot (the header, a bad page or the
        last cluster's padding) at an entry that is not BAD itself: bad-slot for the range."""
        dev = self._pick(chooser, list(self.devices.values()))
        if dev is None or self.pmd_order == 0:
            return False
        size, cs = dev.spec.size, self.cluster_size
        padding = range(size, -(-size // cs) * cs)
        bad_slots = {0, *dev.spec.bad, *padding}
        bad = chooser.choice(sorted(bad_slots))
        order = draw_int(chooser, 1, self.pmd_order, (self.pmd_order,), p=self.boundary_p)
        start = bad - bad % (1 << order)
        entries = [o for o in range(start, min(size, start + (1 << order))) if o not in bad_slots]
        if not entries:
            return False
        entry = Entry(dev.type, chooser.choice(entries))
        return self._misuse("swapin_folio", entry=entry, folio=self._fresh_id(), order=order)


# Every action, in pick order (weighted picks iterate in this order): definition order.
ACTION_NAMES: tuple[str, ...] = tuple(ACTIONS)
MISUSE_ACTIONS = tuple(name for name in ACTION_NAMES if name.startswith("misuse_"))

# The actions Hypothesis mode puts first in every weighted pick (the machine passes them to
# its HypothesisChooser), so the smallest draws, i.e. Hypothesis' first example and its
# shrink target, pick the first ENABLED of them: with all-zero draws a world faults a folio
# in, reclaims it to swap and faults it back, over and over (forking once memory is full),
# instead of only faulting in and zapping anonymous memory.
LEAD_ACTIONS: tuple[str, ...] = ("swapin_fault", "reclaim_full", "anon_fault_new", "fork")
CONDITION_NAMES: tuple[str, ...] = tuple(CONDITIONS)
_CONDITION_FUNCS: tuple[Condition, ...] = tuple(CONDITIONS.values())
_CONDITION_INDEX = {name: i for i, name in enumerate(CONDITION_NAMES)}
