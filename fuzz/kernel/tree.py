"""A Linux source tree that swapdiff patches for a while and always gives back as it found it.

`KernelTree.applied(patch)` keeps the bytes of every file the patch names, applies it with GNU
patch (no fuzz, no backup or reject files), and on leaving -- normally, after a failed `patch`
or build, on Ctrl-C or SIGTERM -- writes those bytes back with the two signals held off, then
checks each file's SHA-256.  Restoring bytes instead of reverse-applying means a half-applied
patch leaves nothing behind.  A restored file keeps its new mtime on purpose: make then rebuilds
its object from the stock source, where an old mtime would let the mutant's object live on.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import signal
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
EXIT_BROKEN = 3


class TreeError(Exception):
    """A tree or patch swapdiff cannot use (one line); `code` the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Patch:
    """A unified diff for `patch -p1`: its name and the tree paths it touches."""

    name: str
    text: str
    files: tuple[str, ...]


def parse_patch(name: str, text: str) -> Patch:
    """The files a -p1 patch touches, from its `--- a/PATH` / `+++ b/PATH` header pairs;
    TreeError if it has none, no hunk, or names a path outside the tree."""
    lines = text.splitlines()
    files = []
    for old, new in itertools.pairwise(lines):
        if not (old.startswith("--- ") and new.startswith("+++ ")):
            continue
        for header in (old, new):
            target = header[4:].split("\t", 1)[0].strip()
            if target == "/dev/null":  # a created or deleted file: its name is on the other line
                continue
            path = target.split("/", 1)[1] if "/" in target else ""
            if not path or path.startswith("/") or ".." in Path(path).parts:
                raise TreeError(f"patch {name}: {target!r} is not a path inside the tree (patch -p1)")
            files.append(path)
    if not files or not any(line.startswith("@@ ") for line in lines):
        raise TreeError(f"patch {name}: not a unified diff (no ---/+++ file lines and @@ hunks)")
    return Patch(name, text, tuple(dict.fromkeys(files)))


def read_patch(path: Path, name: str | None = None) -> Patch:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise TreeError(f"cannot read patch {path}: {getattr(err, 'strerror', None) or err}") from None
    return parse_patch(name or path.stem, text)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class KernelTree:
    """A Linux source tree (a git checkout or an unpacked source package)."""

    def __init__(self, root: Path) -> None:
        root = root.absolute()
        makefile = root / "Makefile"
        if not makefile.is_file() or not (root / "mm" / "swapfile.c").is_file():
            raise TreeError(f"{root} is not a Linux source tree (no Makefile and mm/swapfile.c)")
        self.root = root
        self.release = _makefile_release(makefile.read_text(errors="replace"))

    # ---- checks ----

    def check_applies(self, patch: Patch) -> str | None:
        """None if `patch` applies to the tree as it is, exactly (no fuzz), else why not."""
        run = self._patch(patch, "--dry-run")
        if run.returncode == 0:
            return None
        lines = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
        failed = [ln for ln in lines if "FAILED" in ln or "can't find file" in ln or "malformed" in ln]
        return " ".join((failed or lines or [f"patch exited {run.returncode}"])[0].split())

    def require_applicable(self, patches: Iterable[Patch]) -> None:
        """TreeError (exit 2) naming the first patch that does not apply cleanly."""
        for patch in patches:
            why = self.check_applies(patch)
            if why is not None:
                raise TreeError(f"{patch.name} does not apply cleanly to {self.root}: {why}")

    def digests(self, files: Iterable[str]) -> dict[str, str | None]:
        """SHA-256 of each file (None: absent): what `applied` restores and the run re-checks."""
        return {f: _digest(self.root / f) for f in files}

    def git_status(self) -> str | None:
        """`git status --porcelain` of a git tree (None for a tree that is not one)."""
        if not (self.root / ".git").exists():
            return None
        run = subprocess.run(
            ["git", "-C", str(self.root), "status", "--porcelain=v1", "-uno"], capture_output=True, text=True
        )
        return run.stdout if run.returncode == 0 else None

    # ---- applying ----

    @contextlib.contextmanager
    def applied(self, patch: Patch) -> Iterator[None]:
        """The tree with `patch` applied inside the block; as found again after it, however the
        block ends.  TreeError (exit 2) if the patch does not apply; (exit 3) if a file could
        not be restored."""
        saved = {f: self._read(f) for f in patch.files}
        try:
            with terminate_as_interrupt():
                run = self._patch(patch)
                if run.returncode != 0:
                    why = " ".join((run.stdout + run.stderr).split())[:200]
                    raise TreeError(f"{patch.name} did not apply to {self.root}: {why}")
                yield
        finally:
            with _signals_held():
                self._restore(saved)

    def _read(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None

    def _restore(self, saved: dict[str, bytes | None]) -> None:
        wrong = []
        for rel, data in saved.items():
            path = self.root / rel
            if data is None:
                path.unlink(missing_ok=True)
            elif self._read(rel) != data:
                path.write_bytes(data)
            now = _digest(path)
            if now != (None if data is None else hashlib.sha256(data).hexdigest()):
                wrong.append(rel)
        if wrong:
            raise TreeError(f"could not restore {', '.join(wrong)} in {self.root}", EXIT_BROKEN)

    def _patch(self, patch: Patch, *extra: str) -> subprocess.CompletedProcess[str]:
        cmd = ["patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch"]
        cmd += ["--reject-file=-", "-d", str(self.root), *extra]
        try:
            return subprocess.run(cmd, input=patch.text, capture_output=True, text=True)
        except FileNotFoundError:
            raise TreeError("GNU patch is not installed; install it with: apt-get install patch") from None


def _makefile_release(text: str) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL plus EXTRAVERSION from a top-level kernel Makefile."""
    fields = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
        m = re.search(rf"^{key}\s*=[ \t]*(\S*)", text, re.M)
        fields[key] = m.group(1) if m else ""
    release = ".".join(fields[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if fields[k])
    return release + fields["EXTRAVERSION"]


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C, so every `finally` (restore, QEMU kill) runs."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread: try/finally only
            old[sig] = signal.signal(sig, on_term)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (they are delivered after it)."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
