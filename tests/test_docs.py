"""The README and docs/ stay true: every link resolves, every page is reachable from the README,
and the README's install and test commands are exactly the ones CI (`.ci/run`) runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _local_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(page.read_text()) if "://" not in target]


def _commands(text: str) -> list[list[str]]:
    """Every command line of the fenced blocks, split like a shell, comments dropped."""
    lines = [line for block in re.findall(r"```\n(.*?)```", text, re.S) for line in block.splitlines()]
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def _ci_commands() -> list[list[str]]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in lines]
    return [shlex.split(c) for c in commands if c.startswith(("apt-get install", "pip ", "pytest"))]


def test_every_local_link_in_the_readme_and_the_docs_resolves():
    broken = [
        f"{page.relative_to(ROOT)} -> {target}"
        for page in [README, *sorted(DOCS.glob("*.md"))]
        for target in _local_links(page)
        if not (page.parent / target).exists()
    ]
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / target).resolve() for target in _local_links(README) if target.startswith("docs/")}
    pages = {page.resolve() for page in DOCS.glob("*.md")}
    assert pages and pages - linked == set()


def test_the_readme_gives_exactly_the_install_and_test_commands_ci_runs():
    readme = _commands(README.read_text())
    system, install, test = _ci_commands()
    assert system[:2] == ["apt-get", "install"] and install[:2] == ["pip", "install"] and test[0] == "pytest"
    # CI installs quietly and without asking; otherwise the very same commands.
    for command in (system, install):
        assert [word for word in command if word not in ("-q", "-qq", "-y", ">/dev/null")] in readme
    assert [c for c in readme if c[0] == "pytest"] == [test]
    assert "requirements/lock.txt" in install  # the install takes the lock
