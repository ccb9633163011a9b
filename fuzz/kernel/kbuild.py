"""Configuring and building a kernel tree for the lane's VMs (`swapdiff kernel mutants`).

The configuration is virtme-ng's minimal VM one (`vng --kconfig`: 9p root, virtio, no modules
needed) plus what the lane drives: swap, hibernation with /dev/snapshot, loop devices,
transparent hugepages with THP swap, pagemap, memfd/shmem and ext4 for its scratch disk.
Debug info is turned off (the lane reads no symbols) and so are the big subsystems of vng's
defconfig base that the guest never uses (TRIM: KVM, DRM, sound, USB, wireless, netfilter,
IPv6, NFS, ethernet and ATA drivers, ...).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from fuzz.kernel.tree import EXIT_BROKEN, TreeError

# Options the lane needs built in (=y): checked in an existing .config, set in a new one.
REQUIRED = (
    "SWAP",
    "HIBERNATION",
    "HIBERNATION_SNAPSHOT_DEV",
    "BLK_DEV_LOOP",
    "TRANSPARENT_HUGEPAGE",
    "THP_SWAP",
    "PROC_PAGE_MONITOR",
    "MEMFD_CREATE",
    "SHMEM",
    "EXT4_FS",
    "VIRTIO_BLK",
    "NET_9P",
    "NET_9P_VIRTIO",
    "9P_FS",
)
NO_DEBUG_INFO = [
    *("--disable", "DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT"),
    *("--disable", "DEBUG_INFO_DWARF4", "--disable", "DEBUG_INFO_DWARF5"),
    *("--enable", "DEBUG_INFO_NONE"),
]
# Subsystems of vng's defconfig base that a virtme guest running the lane never touches: off,
# they take well over half of a first build (measured: the defconfig build had compiled a fifth
# of its objects after 40 min on two busy cores).
TRIM = [
    "KVM",
    "DRM",
    "SOUND",
    "SND",
    "USB_SUPPORT",
    "HID_SUPPORT",
    "WLAN",
    "WIRELESS",
    "CFG80211",
    "NETFILTER",
    "IPV6",
    "NFS_FS",
    "NFSD",
    "ETHERNET",
    "ATA",
    "MEDIA_SUPPORT",
    "I2C",
    "AGP",
    "XEN",
    "HYPERV",
    "PCCARD",
    "INPUT_JOYSTICK",
    "INPUT_TABLET",
    "INPUT_TOUCHSCREEN",
    "INPUT_MISC",
    "SECURITY_SELINUX",
    "AUDIT",
    "MACINTOSH_DRIVERS",
    "FB",
    "HWMON",
    "NET_SCHED",
    "CRYPTO_HW",
    "MD",
    "FUSION",
    "BT",
    "WIREGUARD",
    "NETLABEL",
    "WATCHDOG_CORE",
    "BPF_SYSCALL",
    "IOMMU_SUPPORT",
    "EFI",
    "ISO9660_FS",
    "QUOTA",
    "KEXEC",
    "CRASH_DUMP",
    "PTP_1588_CLOCK",
    "DMADEVICES",
]
IMAGE = Path("arch/x86/boot/bzImage")


class BuildError(TreeError):
    """Configuring or building failed (exit 3); the message names the log."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_BROKEN)


def missing_options(root: Path) -> list[str] | None:
    """The REQUIRED options not built in by root/.config (None: there is no .config)."""
    try:
        text = (root / ".config").read_text(errors="replace")
    except FileNotFoundError:
        return None
    have = {line.split("=", 1)[0] for line in text.splitlines() if line.endswith("=y")}
    return [f"CONFIG_{o}" for o in REQUIRED if f"CONFIG_{o}" not in have]


def configure(root: Path, log: Path) -> float:
    """Write root/.config for the lane (see the module doc); the seconds it took."""
    if shutil.which("vng") is None:
        raise TreeError("virtme-ng (vng) is not installed; install it with: pip install 'swapdiff[vm]'")
    items = [arg for o in REQUIRED for arg in ("--configitem", f"CONFIG_{o}=y")]
    t0 = time.monotonic()
    _run(["vng", "--kconfig", *items], root, log, "vng --kconfig")
    trim = [arg for o in TRIM for arg in ("--disable", o)]
    _run(["scripts/config", *NO_DEBUG_INFO, *trim], root, log, "scripts/config")
    _run(["make", "olddefconfig"], root, log, "make olddefconfig")
    missing = missing_options(root)
    if missing:
        raise BuildError(f"the configuration of {root} lacks {', '.join(missing)} after vng --kconfig")
    return time.monotonic() - t0


def build(root: Path, jobs: int, log: Path) -> float:
    """`make -jJOBS bzImage` (niced: the machine is shared); the seconds it took."""
    t0 = time.monotonic()
    _run(["nice", "-n", "10", "make", f"-j{jobs}", "bzImage"], root, log, "make bzImage")
    if not (root / IMAGE).is_file():
        raise BuildError(f"make bzImage left no {IMAGE} in {root}; log: {log}")
    return time.monotonic() - t0


def compile_objects(root: Path, sources: list[str], jobs: int, log: Path) -> float:
    """`make` the objects of the C files `sources` only (a configured tree whose `make
    prepare` has run, e.g. one built before): minutes instead of a full image build, and
    enough to see a patch compile with the tree's -Werror; the seconds it took."""
    objects = [s.removesuffix(".c") + ".o" for s in sources if s.endswith(".c")]
    if not objects:
        return 0.0
    t0 = time.monotonic()
    _run(["nice", "-n", "10", "make", f"-j{jobs}", *objects], root, log, f"make {' '.join(objects)}")
    return time.monotonic() - t0


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run(cmd: list[str], root: Path, log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        try:
            rc = subprocess.run(cmd, cwd=root, stdout=f, stderr=subprocess.STDOUT).returncode
        except FileNotFoundError as err:
            raise BuildError(f"{what}: {err.strerror}: {cmd[0]}") from None
    if rc != 0:
        raise BuildError(f"{what} failed (exit {rc}): {_first_error(log)}; log: {log}")


def _first_error(log: Path) -> str:
    """The compiler's or make's first error line of the last command in `log`."""
    lines = log.read_text(errors="replace").splitlines()
    start = max((i for i, ln in enumerate(lines) if ln.startswith("$ ")), default=0)
    tail = lines[start:]
    for line in tail:
        if "error:" in line or "Error " in line or "*** " in line:
            return " ".join(line.split())[:200]
    return " ".join(tail[-1].split())[:200] if tail else "no output"
