"""Argument types and the one-line-error parser shared by every `swapdiff` subcommand."""

from __future__ import annotations

import argparse
import os
import re
from typing import NoReturn

# The accounting level's `--[no-]same-device` switch (fuzz.accounting), one text for every
# subcommand that takes it.
SAME_DEVICE_HELP = (
    "accounting level: a paired entry lies on the reference's device unless the candidate's "
    "own state justifies its device"
)


class UsageError(ValueError):
    """Bad command-line input (one-line message); `prog` names the (sub)command."""

    def __init__(self, message: str, prog: str = "swapdiff") -> None:
        super().__init__(message)
        self.prog = prog


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors raise `UsageError` (one line, exit 2 by the caller), never exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(" ".join(message.split()), prog=self.prog)


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "a non-negative integer")


def seed(text: str) -> int:
    return _int_at_least(text, 0, "a non-negative integer seed")


def workers(text: str) -> int:
    """A worker count, or "auto" for the CPUs this process may run on."""
    if text == "auto":
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
        return max(1, len(usable))
    return positive_int(text)


def parse_duration(text: str) -> float:
    """Seconds in `90`, `2.5`, `90s`, `10m`, `2h`, `1h30m`, `1.5h` (ValueError otherwise)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh]?)", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise ValueError(f"expected a duration like 90s, 10m, 2h or 1h30m, got {text!r}")
    seconds = sum(float(n) * {"": 1, "s": 1, "m": 60, "h": 3600}[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"the duration must be positive, got {text!r}")
    return seconds


def duration(text: str) -> float:
    """`parse_duration` as an argparse type."""
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def duration_or_off(text: str) -> float:
    """A duration, or `off` / `0` for none (0.0)."""
    if text.strip().lower() in ("off", "0", "0s"):
        return 0.0
    return duration(text)
