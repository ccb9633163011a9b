"""The swapdiff application: the `swapdiff` command, campaigns, reports and benchmarks.

`main` is the console script's entry point (`fuzz.cli:main`).  It imports the command on
first use, so the subcommand modules (`fuzz.kernel.cli`, `fuzz.mutants.cli`) can share
`fuzz.cli.args` without an import cycle.  The command lives in `fuzz.cli.command`, not in a
submodule named `main`: importing that would replace this function on the package."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `swapdiff` command with `argv` (default: sys.argv[1:]); return its exit code."""
    from fuzz.cli.command import main as run

    return run(argv)


__all__ = ["main"]
