"""The kernel lane inside a QEMU guest of another kernel (`swapdiff kernel --vm KERNEL`).

virtme-ng (`vng`) boots the kernel under QEMU with the host's filesystem as the guest's
read-only root, so this checkout's code runs in the guest unchanged; the guest runs
`python -m fuzz.cli kernel ...` as root on a scratch ext4 disk (4K blocks: a swap file on
1K-block ext4 loses pages at swapon) mounted at LANE_DIR.  The run's --out directory
is shared read-write at the same path, so the guest's output (guest.out / guest.err, tailed
here for live progress), its exit code, its summary JSON and any divergence trace land where
the host expects them; the console log (kernel messages, vng's and QEMU's errors) is kept
there too.  Every path out of `run_lane_vm` kills the QEMU process group it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import fuzz
from fuzz.kernel.device import LANE_DIR, hugepage_lock
from fuzz.kernel.tree import terminate_as_interrupt

QEMU = "qemu-system-x86_64"
VNG_HINT = "pip install 'swapdiff[vm]'"
QEMU_HINT = "apt-get install qemu-system-x86"
SCRATCH_BYTES = 256 << 20  # sparse; the lane uses < 40 MiB of it
BOOT_TIMEOUT = {"tcg": 600.0, "kvm": 120.0}  # boot + the guest's Python imports, loaded host
PROBE_TIMEOUT = 60.0
# Where virtme-ng's guest init looks for udevd on the (shared) root.  Found, it runs udev's
# coldplug and settle before the guest's script: 40-90 s of every TCG boot measured here, for
# virtio-serial ports that swapdiff does not use (it reads the guest's results from files).
HOST_UDEVD = (Path("/usr/lib/systemd/systemd-udevd"), Path("/lib/systemd/systemd-udevd"))
SLACK = 120.0  # the lane's own setup and teardown after the budget, under TCG
SECONDS_PER_STEP = 3.0  # a bound, not a rate: TCG runs 1-10 steps/s (1 on a loaded host)
SHRINK_SECONDS = 300.0  # shrink stops itself after 120 s, plus the replay in flight
FATAL = re.compile(r"Kernel panic - not syncing.*|PANIC: early exception.*")  # the guest is done
PANIC = re.compile(r"Kernel panic - not syncing.*|kernel BUG at .*|PANIC: early exception.*|BUG: .*|Oops: .*")
LANE_BANNER = "swapdiff kernel: Linux"  # the lane's first line: it has started
DIVERGENCE_TRACES = "kernel-divergence-seed*.jsonl"  # what the lane writes on a divergence
EXIT_CANNOT_RUN = 2
EXIT_GUEST_FAILED = 3


class VmError(Exception):
    """The guest could not run the lane; the message is one line, `code` the exit code."""

    def __init__(self, message: str, code: int = EXIT_GUEST_FAILED) -> None:
        super().__init__(message)
        self.code = code


def unusable(message: str) -> VmError:
    """A VmError for a run that cannot start (exit 2): bad KERNEL, tools missing."""
    return VmError(message, EXIT_CANNOT_RUN)


# ---- kernels ----


@dataclass(frozen=True)
class KernelImage:
    """A kernel to boot: `run` is what `vng -r` gets (an image or a build tree)."""

    name: str
    run: Path
    image: Path
    release: str


def image_release(image: Path) -> str:
    """The release string an x86 bzImage carries (boot protocol: "HdrS" at 0x202, the version
    string's offset - 0x200 at 0x20E); VmError (exit 2) for anything else."""
    try:
        with open(image, "rb") as f:
            head = f.read(0x4000)
            if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
                raise unusable(f"{image} is not a bootable x86 kernel image (no bzImage header)")
            offset = int.from_bytes(head[0x20E:0x210], "little") + 0x200
            f.seek(offset)
            text = f.read(256).split(b"\0", 1)[0].decode("ascii", "replace")
    except OSError as err:
        raise unusable(f"cannot read kernel image {image}: {err.strerror}") from None
    release = text.split(" ", 1)[0]
    if not release:
        raise unusable(f"{image} is not a bootable x86 kernel image (no version string)")
    return release


def _layout_image(directory: Path) -> Path | None:
    """<dir>/lib/modules/<release>/vmlinuz (the layout of ../shared/kernels), if there is one."""
    found = sorted(directory.glob("lib/modules/*/vmlinuz"))
    return found[0] if found else None


def kernel_from_path(path: Path, name: str | None = None) -> KernelImage:
    """A vmlinuz/bzImage file, a kernel build tree (arch/x86/boot/bzImage) or a kernels-dir
    entry (lib/modules/<release>/vmlinuz)."""
    path = path.absolute()
    if path.is_dir():
        built = path / "arch" / "x86" / "boot" / "bzImage"
        if built.is_file():  # vng finds a tree's image and modules by its .config
            run = path if (path / ".config").is_file() else built
            return KernelImage(name or path.name, run, built, image_release(built))
        image = _layout_image(path)
        if image is None:
            raise unusable(
                f"{path} holds no kernel (neither a build tree with arch/x86/boot/bzImage "
                "nor lib/modules/<release>/vmlinuz)"
            )
        return KernelImage(name or path.name, image, image, image_release(image))
    if not path.exists():
        raise unusable(f"no kernel image {path}")
    return KernelImage(name or path.name, path, path, image_release(path))


def kernels_in(directory: Path) -> list[KernelImage]:
    """Every kernel of a kernels directory (one <name>/lib/modules/<release>/vmlinuz each)."""
    if not directory.is_dir():
        raise unusable(f"--kernels {directory}: no such directory")
    names = sorted(d.name for d in directory.iterdir() if d.is_dir() and _layout_image(d) is not None)
    if not names:
        raise unusable(f"--kernels {directory}: no <name>/lib/modules/<release>/vmlinuz in it")
    return [kernel_from_path(directory / n, n) for n in names]


def resolve_kernel(text: str, kernels_dir: Path | None) -> KernelImage:
    """KERNEL as given to --vm: a path (image or build tree), else a name in `kernels_dir`."""
    if os.sep in text or Path(text).exists():
        return kernel_from_path(Path(text))
    if kernels_dir is None:
        raise unusable(f"no kernel {text!r}: not a path, and no --kernels DIR (or SWAPDIFF_KERNELS) given")
    entry = kernels_dir / text
    if not entry.is_dir():
        have = ", ".join(k.name for k in kernels_in(kernels_dir))
        raise unusable(f"no kernel {text!r} in {kernels_dir} (there: {have})")
    return kernel_from_path(entry, text)


# ---- tools and acceleration ----


def check_tools() -> None:
    """VmError (exit 2) naming the install command unless vng, QEMU and mkfs.ext4 are here."""
    if shutil.which("vng") is None:
        raise unusable(f"virtme-ng (vng) is not installed; install it with: {VNG_HINT}")
    if shutil.which(QEMU) is None:
        raise unusable(f"QEMU ({QEMU}) is not installed; install it with: {QEMU_HINT}")
    if shutil.which("mkfs.ext4") is None:
        raise unusable("mkfs.ext4 is not installed; install it with: apt-get install e2fsprogs")


def udev_notice() -> str | None:
    """A one-line note where the host has udevd (every guest would spend its boot on it)."""
    found = next((p for p in HOST_UDEVD if p.exists()), None)
    if found is None:
        return None
    return (
        f"swapdiff kernel --vm: note: the host has udev ({found}), so every guest runs udev's "
        "coldplug before the lane (40-90 s per boot under TCG); swapdiff does not need it"
    )


_probed: dict[str, tuple[str, str]] = {}
_noted: set[str] = set()


def choose_accel(accel: str, kernel: KernelImage) -> str:
    """ "kvm" or "tcg".  auto: KVM only when a short probe boot with it succeeds (bounded),
    else TCG with a one-line notice on stderr; the answer is kept for the process."""
    if accel != "auto":
        return accel
    if "auto" not in _probed:
        _probed["auto"] = _probe_kvm(kernel)
        chosen, why = _probed["auto"]
        if chosen == "tcg":
            notice = f"swapdiff kernel --vm: KVM is not usable here ({why}); using TCG (slower)"
            print(notice, file=sys.stderr)
    return _probed["auto"][0]


def _probe_kvm(kernel: KernelImage) -> tuple[str, str]:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "/dev/kvm is missing or not accessible"
    with tempfile.TemporaryDirectory(prefix="swapdiff-kvm-probe-") as tmp:
        log, booted = Path(tmp) / "console.log", Path(tmp) / "booted"
        # the guest's word is a file in a shared directory, as for the lane: vng's own exit
        # code is 255 whatever the guest did where the host has no udev (see HOST_UDEVD)
        cmd = [*_vng_base(kernel, "kvm", 1, "512M"), "--rwdir", tmp, "--exec", f"touch {_quote(booted)}"]
        with _vng(cmd, log) as proc:
            try:
                rc = proc.wait(timeout=PROBE_TIMEOUT)
            except subprocess.TimeoutExpired:
                return "tcg", f"a probe boot did not finish within {PROBE_TIMEOUT:.0f} s"
        if booted.exists():
            return "kvm", ""
        return "tcg", _last_error(log) or f"a probe boot exited {rc}"


# ---- running vng ----


def _vng_base(kernel: KernelImage, accel: str, cpus: int, memory: str) -> list[str]:
    cmd = ["vng", "--run", str(kernel.run), "--force-9p", "--verbose"]
    cmd += ["--name", f"swapdiff-{os.getpid()}", "--cpus", str(cpus), "--memory", memory]
    return [*cmd, "--disable-kvm"] if accel == "tcg" else cmd


@contextlib.contextmanager
def _vng(cmd: list[str], console: Path) -> Iterator[subprocess.Popen[bytes]]:
    """vng in its own process group, console and vng's output to `console`; on leaving (any
    way: return, exception, Ctrl-C) the whole group, QEMU included, is killed and reaped."""
    with terminate_as_interrupt(), _beside_no_mthp_lane():
        with open(console, "ab") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            yield proc
        finally:
            _kill_group(proc)


@contextlib.contextmanager
def _beside_no_mthp_lane() -> Iterator[None]:
    """Hold the hugepage lock shared while a guest lives: QEMU madvises its RAM and TCG buffer
    MADV_HUGEPAGE, which a host lane run with --mthp would count as its own mTHP faults."""
    try:
        fd = hugepage_lock(shared=True, wait=False)
    except BlockingIOError:
        print("swapdiff kernel: waiting for a host --mthp lane run to end (hugepage lock)", flush=True)
        fd = hugepage_lock(shared=True)
    try:
        yield
    finally:
        os.close(fd)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if not _group_alive(proc.pid):
            return
        time.sleep(0.2)
        if not _group_alive(proc.pid):
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _last_error(console: Path) -> str:
    """The most telling line of a console log: a panic/oops, else vng's or QEMU's last error
    (kernel messages such as "tsc: Unable to calibrate" are routine under TCG)."""
    try:
        lines = console.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        m = PANIC.search(line)
        if m:
            return m.group(0).strip()
    for line in reversed(lines):  # vng's and QEMU's lines, not the kernel's ("[ time] ...")
        if not line.startswith("[") and re.search(r"error|failed|cannot|not found|unable", line, re.I):
            return " ".join(line.split())[:200]
    return ""


def scratch_image(directory: Path) -> Path:
    """A sparse ext4 image for the guest's LANE_DIR, with 4K blocks: on 1K-block ext4 a swap
    file's extents need not be page aligned and swapon loses pages (a divergence at setup)."""
    image = directory / "scratch.ext4"
    with open(image, "wb") as f:
        f.truncate(SCRATCH_BYTES)
    run = subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "swapdiff-lane", str(image)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise unusable(f"mkfs.ext4 failed on {image}: {' '.join(run.stderr.split())}")
    return image


def checkout_root() -> Path:
    """The directory holding the running `fuzz` package: the guest runs this checkout's code."""
    return Path(fuzz.__file__).resolve().parent.parent


def guest_script(lane_argv: list[str], out: Path, setup: str | None) -> str:
    """The shell command the guest runs: scratch disk at LANE_DIR, then the lane,
    its output and exit code into `out` (shared with the host at the same path)."""
    q = _quote
    mount_at = LANE_DIR  # not its parent /var/tmp: that would hide an --out under it
    # the exit code is written whole, then renamed: the host polls for it while the guest writes
    exit_file, partial = q(out / "guest.exit"), q(out / ".guest.exit")
    record = f"echo $? >{partial} && mv {partial} {exit_file}"
    lines = [
        f"exec >{q(out / 'guest.out')} 2>{q(out / 'guest.err')}",
        # the scratch disk's driver and the lane's block devices (modules in Debian's kernels)
        "modprobe -q -a virtio_blk loop 2>/dev/null",
        f"mkdir -p {q(mount_at)}",
        f"mount -t ext4 /dev/vda {q(mount_at)} || {{ echo 'cannot mount the scratch disk at {mount_at}' >&2; "
        f"(exit 3); {record}; exit 3; }}",
    ]
    if setup:
        lines.append(setup)
    root = checkout_root()
    # The lane imports no Numba code; should anything, Numba must not try to cache on the
    # read-only root (a write error at import): the guest's /tmp is a tmpfs.
    env = f"PYTHONPATH={q(root)} NUMBA_CACHE_DIR=/tmp/swapdiff-numba PYTHONUNBUFFERED=1"
    # -S: no site-packages (the lane needs the standard library and this checkout alone), so
    # no .pth hooks either: `site` alone took 10 s of a 20 s interpreter start under TCG here
    lane = " ".join(q(a) for a in [sys.executable, "-S", "-m", "fuzz.cli", "kernel", *lane_argv])
    lines += [f"cd {q(root)}", f"{env} {lane}", record]
    return "\n".join(lines)


def _quote(value: object) -> str:
    import shlex

    return shlex.quote(str(value))


# ---- one run ----


@dataclass
class VmRun:
    """What one guest run produced."""

    exit_code: int
    boot_seconds: float | None  # vng start to the lane's first line (None: it never started)
    seconds: float
    console: Path
    summary: dict[str, Any] | None = None
    cause: str | None = None  # why the guest failed, one line (exit 2/3 without a lane result)
    accel: str = "tcg"
    lines: list[str] = field(default_factory=list)


class _Tail:
    """New complete lines of a file the guest is writing."""

    def __init__(self, path: Path, sink: TextIO | None) -> None:
        self.path, self.sink, self.pos, self.partial = path, sink, 0, ""
        self.lines: list[str] = []

    def poll(self) -> None:
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except OSError:
            return
        *complete, self.partial = (self.partial + data).split("\n")
        for line in complete:
            self.lines.append(line)
            if self.sink is not None:
                print(line, file=self.sink, flush=True)

    def flush(self) -> None:
        self.poll()
        if self.partial:
            self.lines.append(self.partial)
            if self.sink is not None:
                print(self.partial, file=self.sink, flush=True)
            self.partial = ""


def run_lane_vm(
    kernel: KernelImage,
    lane_argv: list[str],
    *,
    out: Path,
    run_seconds: float,
    accel: str = "auto",
    cpus: int = 1,
    memory: str = "2G",
    boot_timeout: float | None = None,
    setup: str | None = None,
    echo: bool = True,
    teardown_grace: float | None = None,
) -> VmRun:
    """Boot `kernel`, run `swapdiff kernel *lane_argv` in it with --out `out`, and return its
    result.  The guest must print its first line within `boot_timeout` (default by accel) and
    finish within `run_seconds` after that; otherwise (and after a panic, or QEMU failing) the
    result has exit code 3 and a one-line `cause`.  `echo`: relay the guest's output live.
    `teardown_grace`: once the lane has written a divergence trace, the guest has that many
    seconds left to finish (a kernel that leaks slots hangs the lane's swapoff for good)."""
    check_tools()
    note = udev_notice()
    if echo and note and note not in _noted:
        _noted.add(note)
        print(note, flush=True)
    out = out.absolute()
    out.mkdir(parents=True, exist_ok=True)
    chosen = choose_accel(accel, kernel)
    boot_timeout = BOOT_TIMEOUT[chosen] if boot_timeout is None else boot_timeout
    console = out / "console.log"
    for name in ("guest.out", "guest.err", "guest.exit", ".guest.exit", "summary.json", "console.log"):
        (out / name).unlink(missing_ok=True)
    argv = [*lane_argv, "--out", str(out), "--summary", str(out / "summary.json")]
    with tempfile.TemporaryDirectory(prefix="swapdiff-vm-") as tmp:
        image = scratch_image(Path(tmp))
        cmd = [*_vng_base(kernel, chosen, cpus, memory), "--disk", str(image), "--rwdir", str(out)]
        # vng passes --exec on the kernel command line (2048 bytes on x86, a boot panic past
        # that): the script goes into --out, the command line carries only its path
        script = out / "guest.sh"
        script.write_text(guest_script(argv, out, setup) + "\n")
        cmd += ["--exec", f"sh {_quote(script)}"]
        result = _supervise(cmd, out, console, boot_timeout, run_seconds, echo, teardown_grace)
    result.accel = chosen
    return result


def _supervise(
    cmd: list[str],
    out: Path,
    console: Path,
    boot_timeout: float,
    run_seconds: float,
    echo: bool,
    teardown_grace: float | None = None,
) -> VmRun:
    stdout = _Tail(out / "guest.out", sys.stdout if echo else None)
    stderr = _Tail(out / "guest.err", sys.stderr if echo else None)
    t0 = time.monotonic()
    started: float | None = None
    diverged: float | None = None  # when the lane's divergence trace appeared
    cause: str | None = None
    polls = 0
    with _vng(cmd, console) as proc:
        while True:
            stdout.poll()
            stderr.poll()
            now = time.monotonic()
            polls += 1
            if started is None and any(line.startswith(LANE_BANNER) for line in stdout.lines):
                started = now
            done = proc.poll() is not None
            if done or _guest_exit(out) is not None:
                break
            fatal = _fatal(console) if polls % 8 == 0 else None
            if fatal is not None:  # a panicked guest may hang instead of powering off
                time.sleep(1.0)  # the rest of the panic message, for the log
                cause = f"the guest kernel panicked: {fatal}"
                break
            if started is None and now - t0 > boot_timeout:
                stage = _boot_stage(console)
                cause = f"the guest did not start the lane within {boot_timeout:.0f} s ({stage})"
                break
            if teardown_grace is not None and diverged is None and any(out.glob(DIVERGENCE_TRACES)):
                diverged = now
            if diverged is not None and teardown_grace is not None and now - diverged > teardown_grace:
                cause = (
                    f"the lane wrote a divergence trace, then did not finish its teardown within "
                    f"{teardown_grace:.0f} s (a kernel hanging in swapoff?)"
                )
                break
            if started is not None and now - started > run_seconds:
                cause = f"the lane in the guest did not finish within {run_seconds:.0f} s of starting"
                break
            time.sleep(0.25)
    stdout.flush()
    stderr.flush()
    seconds = time.monotonic() - t0
    boot = None if started is None else started - t0
    code = _guest_exit(out)
    if cause is None and code is None:
        cause = f"the guest ended without a lane result: {_ended_why(console, proc.returncode)}"
    if cause is not None:
        cause = f"{cause}; console log: {console}"
        return VmRun(EXIT_GUEST_FAILED, boot, seconds, console, None, cause, lines=stdout.lines)
    assert code is not None
    return VmRun(code, boot, seconds, console, _summary(out), None, lines=stdout.lines)


def _fatal(console: Path) -> str | None:
    """The guest's panic line, once the console shows one."""
    try:
        m = FATAL.search(console.read_text(errors="replace"))
    except OSError:
        return None
    return m.group(0).strip() if m else None


def _boot_stage(console: Path) -> str:
    """How far the guest got, from the console log, for the one-line cause."""
    try:
        text = console.read_text(errors="replace")
    except OSError:
        text = ""
    if PANIC.search(text):
        return f"the kernel panicked: {_last_error(console)}"
    if "starting script" in text:
        return "it booted; its command did not start the lane"
    if "virtme-ng-init" in text:
        return "still in virtme-ng-init"
    if text.strip():
        return "the kernel did not finish booting"
    return "no console output"


def _ended_why(console: Path, status: int | None) -> str:
    """Why a guest ended early: its panic or error line, else whether the kernel ever ran."""
    why = _last_error(console)
    if why:
        return why
    try:
        booted = "Linux version" in console.read_text(errors="replace")
    except OSError:
        booted = False
    if not booted:
        return f"the kernel never started (QEMU ended, vng status {status}): a broken or truncated image?"
    return f"vng exited {status} before the lane finished"


def _guest_exit(out: Path) -> int | None:
    try:
        return int((out / "guest.exit").read_text().strip())
    except (OSError, ValueError):
        return None


def _summary(out: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
