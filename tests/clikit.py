"""Running `swapdiff` as a user does, in a subprocess, and checking its one-line errors.

Every test that drives the command line goes through these helpers, so the environment a
command sees (this checkout first on PYTHONPATH, no debug or scheduler variables leaking in
from the developer's shell) is decided in one place.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The variables that change what a command does and must not leak in from the caller's shell.
LEAKY = ("SWAPDIFF_DEBUG", "SWAPDIFF_SCHEDULER")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a `swapdiff` subprocess: this checkout first, plus `extra`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in LEAKY:
        env.pop(name, None)
    env.update(extra)
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "fuzz.cli", *args]


def swapdiff(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run `swapdiff ARGS...` in `cwd` to completion, capturing its output as text."""
    return subprocess.run(
        cli_argv(*args),
        cwd=cwd,
        env=cli_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `swapdiff ARGS...` in `cwd` without waiting (stdout and stderr piped, as text)."""
    return subprocess.Popen(
        cli_argv(*args),
        cwd=cwd,
        env=cli_env() if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """The command failed as a usage error: exit 2, one `error:` line holding every needle."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error:" in lines[0] and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]
