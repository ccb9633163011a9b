"""Mutants: named bug injections into a temporary copy of `optimized/`, and the runner that
measures whether (and how fast) the harness catches each one.

- `fuzz.mutants.catalogue`: the mutant list (`CATALOGUE`), each a kernel bug or a rule break
  written as exact source edits of the optimized package.
- `fuzz.mutants.apply`: check that edits apply, and build a mutated copy in a temp dir.
- `fuzz.mutants.runner`: run a campaign against each mutant in its own process.
- `fuzz.mutants.cli`: `swapdiff mutants ...`.
"""

from fuzz.mutants.catalogue import CATALOGUE, Edit, Mutant, select

__all__ = ["CATALOGUE", "Edit", "Mutant", "select"]
