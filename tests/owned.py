"""A pytest plugin: tests that own a host resource must run where the host can run them.

A marker names what a test owns (`kernel`: the host kernel's swap; `vm`: QEMU guests of the
staged kernels in ../shared/kernels).  Each marker comes with a
function that says why this host cannot run such tests (None: it can).  Where the host can,
a skipped test, or one collected but never reported, fails the session: a green run must have
exercised them.  (The kernel lane was once skipped whole, by a race between xdist workers,
while CI stayed green.)  The check runs where the results meet: in the xdist controller, which
learns each worker's collection counts through `workeroutput`, or in a plain session.

Tests that take the host's swap (fixture `kernel_host_ok`) must also carry the xdist group
"kernel" statically, so `--dist loadgroup` gives the group one worker whatever the hook order;
a group that ran on two workers anyway fails the session (pytest 9.2 with pytest-xdist 3.8
silently ignored every group).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

WhyNot = Callable[[], "str | None"]


def lane_host() -> str | None:
    """Why this host cannot run the kernel lane, or None if it can."""
    from fuzz.kernel.device import KernelUnavailable, check_host

    try:
        check_host()
    except KernelUnavailable as err:
        return str(err)
    return None


def vm_host() -> str | None:
    """Why this host cannot boot the staged kernels, or None if it can."""
    from fuzz.kernel.vm import VmError, check_tools
    from tests.fuzz.kernel.vmtools import KERNELS

    if not KERNELS.is_dir():
        return f"no staged kernels at {KERNELS}"
    try:
        check_tools()
    except VmError as err:
        return str(err)
    return None


class OwnedTests:
    """The session's bookkeeping of owned tests: collected per marker, reported per node id."""

    def __init__(self, owned: dict[str, WhyNot]) -> None:
        self.owned = owned
        self.ids: dict[str, set[str]] = {name: set() for name in owned}  # collected, per marker
        self.seen: dict[str, tuple[str, str]] = {}  # nodeid -> (outcome, worker)
        self.problems: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if "kernel_host_ok" in getattr(item, "fixturenames", ()):
                groups = [m.args for m in item.iter_markers("xdist_group")]
                if not item.get_closest_marker("kernel") or ("kernel",) not in groups:
                    raise pytest.UsageError(
                        f"{item.nodeid} takes the host's swap (kernel_host_ok) but its module lacks "
                        "pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group('kernel')]"
                    )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for name in self.owned:
            self.ids[name] = {item.nodeid for item in session.items if item.get_closest_marker(name)}
        if hasattr(session.config, "workeroutput"):
            session.config.workeroutput["owned_ids"] = {k: sorted(v) for k, v in self.ids.items()}

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        # Every worker collects the same items; a worker that died early may report fewer.
        for name, ids in getattr(node, "workeroutput", {}).get("owned_ids", {}).items():
            self.ids[name] |= set(ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)  # xdist controller: the worker it ran on
        worker = node.workerinput["workerid"] if node is not None else "main"
        if report.skipped:
            self.seen[report.nodeid] = ("skipped", worker)
        elif report.when == "call" or report.failed:
            self.seen.setdefault(report.nodeid, (report.outcome, worker))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(session.config, "workerinput") or exitstatus != 0 or session.config.option.collectonly:
            return  # workers report to the controller; a failed or interrupted run fails anyway
        for name, why_not in self.owned.items():
            if self.ids[name] and why_not() is None:
                self.problems += self._unexercised(name)
        if self.problems:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _unexercised(self, name: str) -> list[str]:
        reported = {nodeid: self.seen[nodeid] for nodeid in self.ids[name] if nodeid in self.seen}
        skipped = sorted(nodeid for nodeid, (outcome, _) in reported.items() if outcome == "skipped")
        workers = {worker for _, worker in reported.values()}
        problems = []
        if skipped:
            problems.append(f"{len(skipped)} '{name}' tests skipped where they can run: {skipped[:3]}")
        if len(reported) != len(self.ids[name]):
            problems.append(f"'{name}' tests: {len(self.ids[name])} collected, {len(reported)} reported")
        if len(workers) > 1:
            problems.append(
                f"'{name}' tests ran on workers {sorted(workers)}: their xdist group was not "
                "honoured (pytest-xdist's --dist loadgroup and this pytest disagree)"
            )
        return problems

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for line in self.problems:
            terminalreporter.write_line(f"FAILED (owned tests not exercised): {line}", red=True)


OWNED: dict[str, WhyNot] = {"kernel": lane_host, "vm": vm_host}
