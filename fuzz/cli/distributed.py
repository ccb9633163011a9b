"""Campaigns past one machine: a campaign's rounds as Dask tasks, with a resumable state file.

`swapdiff fuzz --scheduler tcp://HOST:PORT` (or `SWAPDIFF_SCHEDULER`) connects a
`dask.distributed.Client` to a scheduler started with Dask's own tools (`dask scheduler`,
`dask worker`, or any Dask deployment) and runs the campaign's rounds there.  Dask is an
optional extra (`swapdiff[distributed]`), imported only on this path.

The seed plan is the local pool's: stream `w` (one of `--workers`) uses seed `seed*1000+w`
and runs rounds 0, 1, 2, ... with the same step plan, so a distributed campaign with the same
seed, step budget and worker count writes the same trace bytes as a local one.  A round is a
pure function, `run_round(config, worker, round, done, deadline) -> RoundOutcome` (plain data:
the round's campaign messages, traces as text), submitted with Dask's own `retries=`; a
killed Dask worker's task is rescheduled by the scheduler.  A round's step count decides the
next round's share of the budget, so each stream has one round in flight: use `--workers` at
least the number of Dask worker threads.  The client counts each (worker, round) once, writes
the traces (deduplicated by signature, smallest seed kept, as for local runs) and, after every
round, `campaign-state.json` in `--out` (atomically): the finished rounds per stream and the
totals.  `--resume DIR` reloads that file and continues without repeating finished rounds; a
round that was in flight when the client stopped is run again from its start.  Before the
first round the candidate's module goes to the workers (`fuzz.cli.ship`), so a candidate only
the client can import runs there too, or the campaign is refused with one line.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.cli import messages as msg
from fuzz.cli.campaign import (
    MAX_WORKER_ERRORS,
    SAMPLE_SECONDS,
    CampaignConfig,
    CampaignError,
    CampaignState,
    _Worker,
    run_campaign,
    scheduler_address,
)
from fuzz.cli.ship import ship_candidates
from fuzz.trace import atomic_write_text

STATE_FILE = "campaign-state.json"
STATE_VERSION = 1
DEFAULT_CONNECT_TIMEOUT = 10.0
TASK_RETRIES = 3


@dataclass
class RoundOutcome:
    """One finished round: its campaign messages (as the local pool sends them) and where it ran."""

    worker: int
    round: int
    steps: int
    messages: list[msg.Message]
    errors: int
    host: str
    seconds: float


def run_round(
    config: CampaignConfig, worker: int, round_no: int, done: int, deadline: float | None
) -> RoundOutcome:
    """Run round `round_no` of stream `worker`, which has already run `done` steps.

    The same code as a local worker's round (`fuzz.cli.campaign._Worker`); `deadline` is a
    wall-clock time (`time.time()`) for time budgets, None for step budgets.
    """
    messages: list[msg.Message] = []
    runner = _Worker(config, worker, messages.append, lambda: False)
    runner.done = done
    runner.deadline = deadline
    mode = config.mode
    if mode == "both":
        mode = "fast" if round_no % 2 == 0 else "hypothesis"
    started = time.perf_counter()
    errors = 0
    try:
        if mode == "fast":
            runner.fast_round(round_no)
        else:
            runner.hypothesis_round(round_no)
    except Exception as err:  # a harness bug: reported like a local worker's, the stream goes on
        errors = 1
        text = " ".join(str(err).split())
        messages.append(msg.Error(worker, f"{mode} round {round_no}: {type(err).__name__}: {text}"))
    return RoundOutcome(
        worker=worker,
        round=round_no,
        steps=runner.done - done,
        messages=messages,
        errors=errors,
        host=_worker_name(),
        seconds=time.perf_counter() - started,
    )


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # not inside a Dask worker (called directly)
        return socket.gethostname()


@dataclass
class Stream:
    """One seed stream's progress: the next round to run and the steps its rounds have done."""

    next_round: int = 0
    done: int = 0
    errors: int = 0
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "next_round": self.next_round,
            "done": self.done,
            "errors": self.errors,
            "finished": self.finished,
        }


@dataclass
class _Hosts:
    """Per-Dask-worker throughput: rounds, steps and busy seconds."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, outcome: RoundOutcome) -> None:
        row = self.rows.setdefault(outcome.host, {"rounds": 0, "steps": 0, "seconds": 0.0})
        row["rounds"] += 1
        row["steps"] += outcome.steps
        row["seconds"] += outcome.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            host: {
                "rounds": int(row["rounds"]),
                "steps": int(row["steps"]),
                "busy_seconds": round(row["seconds"], 3),
                "steps_per_second": round(row["steps"] / row["seconds"], 1) if row["seconds"] > 0 else 0.0,
            }
            for host, row in sorted(self.rows.items())
        }


def connect(address: str, timeout: float) -> Any:
    """A Dask client on `address`, or a one-line CampaignError (no dask, unreachable, bad address)."""
    try:
        from distributed import Client
    except ImportError:
        raise CampaignError(
            "--scheduler needs Dask: install swapdiff[distributed] (pip install 'swapdiff[distributed]')"
        ) from None
    import logging

    for name in ("distributed", "distributed.client", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from distributed.comm import get_address_host_port, parse_address
    from distributed.comm.registry import get_backend

    try:
        get_backend(parse_address(address)[0])
        get_address_host_port(address)
    except (ValueError, TypeError) as err:
        raise CampaignError(f"bad --scheduler address {address!r}: {' '.join(str(err).split())}") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        raise CampaignError(
            f"cannot connect to --scheduler {address!r} within {timeout:g}s: "
            f"{' '.join(str(err).split())[:200]}"
        ) from None


# --------------------------------------------------------------------------------------------
# The state file
# --------------------------------------------------------------------------------------------


def write_state(state: CampaignState, streams: list[Stream], hosts: _Hosts, scheduler: str) -> None:
    data = {
        "swapdiff_campaign_state": STATE_VERSION,
        "config": state.config.to_json(),
        "scheduler": scheduler,
        "streams": [s.to_json() for s in streams],
        "totals": {
            "seconds": round(state.elapsed(), 3),
            "steps": state.steps,
            "ops": state.ops,
            "rounds": dict(state.rounds),
            "labelled_ops": state.labelled_ops,
            "rules": dict(state.rules),
            "labels": dict(state.labels),
            "errors": list(state.errors),
        },
        "failures": [{"signature": list(sig), **info} for sig, info in state.failures.items()],
        "hosts": hosts.to_json(),
    }
    atomic_write_text(Path(state.config.out) / STATE_FILE, json.dumps(data, indent=2) + "\n")


def load_resume(directory: str) -> dict[str, Any]:
    """The state file of an interrupted campaign in `directory` (a one-line error if unusable)."""
    path = Path(directory) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CampaignError(
            f"--resume {directory!r}: no {STATE_FILE} (not a distributed campaign's --out)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CampaignError(f"--resume {directory!r}: cannot read {STATE_FILE}: {err}") from None
    if not isinstance(data, dict) or data.get("swapdiff_campaign_state") != STATE_VERSION:
        raise CampaignError(
            f"--resume {directory!r}: {STATE_FILE} is not a version {STATE_VERSION} state file"
        )
    return data


def resumed_config(data: dict[str, Any], directory: str) -> CampaignConfig:
    """The interrupted campaign's config, writing to `directory`."""
    fields = {k: v for k, v in data["config"].items() if k in CampaignConfig.__dataclass_fields__}
    config = CampaignConfig(**fields)
    config.out = directory
    return config


def _restore(state: CampaignState, data: dict[str, Any]) -> tuple[list[Stream], float]:
    totals = data["totals"]
    state.steps = totals["steps"]
    state.ops = totals["ops"]
    state.rounds = Counter(totals["rounds"])
    state.labelled_ops = totals["labelled_ops"]
    state.rules = Counter(totals["rules"])
    state.labels = Counter(totals["labels"])
    state.errors = list(totals["errors"])
    for entry in data["failures"]:
        entry = dict(entry)
        state.failures[tuple(entry.pop("signature"))] = entry
    streams = [Stream(**s) for s in data["streams"]]
    return streams, float(totals.get("seconds", 0.0))


# --------------------------------------------------------------------------------------------
# The client loop
# --------------------------------------------------------------------------------------------


def run_distributed_campaign(config: CampaignConfig, resume: dict[str, Any] | None = None) -> int:
    """Run the campaign's rounds on the Dask cluster at `config.scheduler`; the exit code.

    Connects first (a bad address or an unusable candidate is a one-line error before anything
    is written), ships the candidate's module to the workers (`fuzz.cli.ship`), then runs the
    campaign with its rounds as tasks; `resume` is an interrupted campaign's state file."""
    assert config.scheduler, "the distributed path needs a scheduler address"
    client = connect(config.scheduler, config.connect_timeout)
    try:
        ship_candidates(client, {"--impl": config.impl, "--reference": config.reference})
        return run_campaign(config, lambda state, display: _loop(client, state, display, resume))
    finally:
        client.close(timeout=5)


def _loop(client: Any, state: CampaignState, display: Any, resume: dict[str, Any] | None) -> None:
    from distributed import wait

    config = state.config
    scheduler = config.scheduler or ""  # set: run_campaign takes this path only with a scheduler
    hosts = _Hosts()
    if resume is not None:
        streams, before = _restore(state, resume)
        state.started -= before  # elapsed time counts the interrupted run too
        for host, row in resume.get("hosts", {}).items():
            hosts.rows[host] = {
                "rounds": row["rounds"],
                "steps": row["steps"],
                "seconds": row["busy_seconds"],
            }
    else:
        streams = [Stream() for _ in range(config.workers)]
    for index, stream in enumerate(streams):
        budget = config.worker_steps(index)
        if budget is not None and stream.done >= budget:
            stream.finished = True
    deadline = None if config.time is None else time.time() + max(0.0, config.time - state.elapsed())
    campaign = uuid.uuid4().hex[:8]
    pending: dict[Any, int] = {}
    scaling = _Scaling(last=state.elapsed(), steps=state.steps)

    def submit(index: int) -> None:
        stream = streams[index]
        future = client.submit(
            run_round,
            config,
            index,
            stream.next_round,
            stream.done,
            deadline,
            key=f"swapdiff-{campaign}-w{index}-r{stream.next_round}",
            retries=TASK_RETRIES,
            pure=False,
        )
        pending[future] = index

    # Ctrl-C sets a flag checked between rounds, so a round is never half counted in the state.
    # The handler is in place before the first submission: a round may start (and the user may
    # press Ctrl-C) while the remaining streams are still being submitted.
    with _sigint_sets() as stop:
        for index, stream in enumerate(streams):
            if stream.finished:
                state.finished_workers += 1
            elif not stop.is_set():
                submit(index)
        write_state(state, streams, hosts, scheduler)
        while pending and not stop.is_set():
            try:
                finished, _ = wait(list(pending), timeout=0.25, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            for future in finished:
                index = pending.pop(future)
                _accept(future, index, streams[index], state, hosts, deadline)
                if streams[index].finished:
                    state.handle(msg.Done(index))
                else:
                    submit(index)
                write_state(state, streams, hosts, scheduler)
            if state.elapsed() - scaling.last >= SAMPLE_SECONDS:
                state.distributed = scaling.sample(client, state, hosts, scheduler)
            display.tick()
    if stop.is_set():
        state.interrupted = True
        client.cancel(list(pending))
    state.distributed = scaling.sample(client, state, hosts, scheduler)
    write_state(state, streams, hosts, scheduler)


@contextmanager
def _sigint_sets() -> Iterator[threading.Event]:
    """Within the block, SIGINT (Ctrl-C) sets the yielded event instead of raising.

    Off the main thread (a library caller's thread) signals cannot be handled; there a
    KeyboardInterrupt raised in the block sets the event too."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        try:
            yield stop
        except KeyboardInterrupt:
            stop.set()
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _accept(
    future: Any, index: int, stream: Stream, state: CampaignState, hosts: _Hosts, deadline: float | None
) -> None:
    """Count a finished round once: its messages into the campaign, its steps into the stream."""
    config = state.config
    try:
        outcome: RoundOutcome = future.result()
    except Exception as err:  # the task failed on every retry (e.g. its workers kept dying)
        state.errors.append(f"worker {index}: round {stream.next_round}: {type(err).__name__}: {err}")
        stream.errors += 1
        stream.finished = stream.errors >= MAX_WORKER_ERRORS
        stream.next_round += 1
        return
    assert outcome.worker == index and outcome.round == stream.next_round
    for message in outcome.messages:
        state.handle(message)
    hosts.add(outcome)
    stream.done += outcome.steps
    stream.errors += outcome.errors
    stream.next_round += 1
    budget = config.worker_steps(index)
    spent = budget is not None and stream.done >= budget
    late = deadline is not None and time.time() >= deadline
    stream.finished = spent or late or stream.errors >= MAX_WORKER_ERRORS


@dataclass
class _Scaling:
    """Samples of (elapsed, Dask workers, steps/s since the previous sample): throughput vs workers."""

    last: float
    steps: int
    rows: list[list[float]] = field(default_factory=list)

    def sample(self, client: Any, state: CampaignState, hosts: _Hosts, scheduler: str) -> dict[str, Any]:
        workers = _count_workers(client)
        now = state.elapsed()
        if now > self.last:
            rate = (state.steps - self.steps) / (now - self.last)
            self.rows.append([round(now, 3), workers, round(rate, 1)])
        self.last, self.steps = now, state.steps
        return {
            "scheduler": scheduler,
            "dask_workers": workers,
            "per_worker": hosts.to_json(),
            "scaling": self.rows,
        }


def _count_workers(client: Any) -> int:
    try:
        return len(client.scheduler_info(n_workers=-1).get("workers", {}))
    except TypeError:  # older distributed: no n_workers argument
        return len(client.scheduler_info().get("workers", {}))
    except Exception:
        return 0


def resume_campaign(args: Any) -> int:
    """`swapdiff fuzz --resume DIR`: continue the campaign from DIR's state file."""
    data = load_resume(args.resume)
    config = resumed_config(data, args.resume)
    config.quiet = args.quiet or config.quiet
    config.scheduler = scheduler_address(args.scheduler) or data.get("scheduler")
    if args.connect_timeout:
        config.connect_timeout = args.connect_timeout
    if not config.scheduler:
        raise CampaignError("--resume needs --scheduler (or SWAPDIFF_SCHEDULER)")
    return run_distributed_campaign(config, resume=data)
