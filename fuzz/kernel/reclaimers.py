"""Host reclaimers the kernel lane pauses: DAMON schemes that page memory out on their own.

A DAMON "pageout" scheme (the sysfs admin interface's kdamonds, or the DAMON_RECLAIM module)
reclaims cold pages of any process at times of its own choosing.  With the lane's device the
only swap, every such page lands in it: /proc/swaps Used and SwapFree move by a slot that no
lane action explains.  On this project's hosts a kdamond pages out unmapped shmem pages this
way, seen as one or two extra Used slots after a few thousand lane steps.  The lane therefore
turns each active pageout scheme into a "stat" scheme (DAMON keeps monitoring, only the action
changes; "commit" applies it without restarting the kdamond, so region ages survive) and puts
"pageout" back on exit.  DAMON_RECLAIM has no such knob; it is disabled and re-enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DAMON_ADMIN = Path("/sys/kernel/mm/damon/admin/kdamonds")
DAMON_RECLAIM_ENABLED = Path("/sys/module/damon_reclaim/parameters/enabled")
PAUSED_ACTION = "stat"


@dataclass(frozen=True)
class PausedScheme:
    """One DAMON scheme the lane changed: its action file and the kdamond to commit."""

    action: Path
    kdamond: Path
    was: str


def pageout_schemes(admin: Path = DAMON_ADMIN) -> list[tuple[Path, Path]]:
    """(action file, kdamond dir) of every scheme of a running kdamond whose action is pageout."""
    found = []
    for kdamond in sorted(admin.glob("[0-9]*")):
        state = kdamond / "state"
        if not state.exists() or state.read_text().strip() != "on":
            continue
        for action in sorted(kdamond.glob("contexts/[0-9]*/schemes/[0-9]*/action")):
            if action.read_text().strip() == "pageout":
                found.append((action, kdamond))
    return found


def pause_damon(admin: Path = DAMON_ADMIN) -> list[PausedScheme]:
    """Turn every running pageout scheme into a stat scheme; returns what to restore."""
    paused = []
    try:
        for action, kdamond in pageout_schemes(admin):
            action.write_text(PAUSED_ACTION)
            paused.append(PausedScheme(action, kdamond, "pageout"))
        for kdamond in sorted({p.kdamond for p in paused}):
            (kdamond / "state").write_text("commit")
    except OSError:
        restore_damon(paused)
        raise
    return paused


def restore_damon(paused: list[PausedScheme]) -> list[str]:
    """Put each paused scheme's action back and commit; returns one error line per failure."""
    errors = []
    for p in paused:
        try:
            p.action.write_text(p.was)
        except OSError as err:
            errors.append(f"restore {p.action}: {err.strerror}")
    for kdamond in sorted({p.kdamond for p in paused}):
        try:
            (kdamond / "state").write_text("commit")
        except OSError as err:
            errors.append(f"commit {kdamond}: {err.strerror}")
    return errors


def damon_reclaim_enabled(path: Path = DAMON_RECLAIM_ENABLED) -> bool:
    return path.exists() and path.read_text().strip() in ("Y", "1")


def describe(admin: Path = DAMON_ADMIN, reclaim: Path = DAMON_RECLAIM_ENABLED) -> dict[str, object]:
    """The reclaimers' state as plain data (what the tests' host check compares)."""
    return {
        "damon_pageout_schemes": [str(a) for a, _ in pageout_schemes(admin)],
        "damon_reclaim": damon_reclaim_enabled(reclaim),
    }
