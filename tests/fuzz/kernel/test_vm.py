"""`swapdiff kernel --vm`: a guest that fails ends as one line within a bounded time, with no
QEMU left behind; a difference at the first swapon is a divergence with a trace (issue 24).

The boots that agree are in test_matrix.py (one per staged kernel)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fuzz.kernel import vm
from tests.fuzz.kernel.vmtools import KERNELS, REPO, need_vm, qemus_of, start, swapdiff_kernel

pytestmark = [pytest.mark.vm, pytest.mark.xdist_group("vm")]

MINIMAL = "7.3.4-minimal"  # everything built in: the quickest boot
RULES = ("--semantics", "6.18")  # a rule set for any release (the lane refuses a release it has none for)


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_missing_kernel_name_is_one_line_listing_the_kernels_there(tmp_path: Path) -> None:
    kernels = need_vm()
    run = swapdiff_kernel("--vm", "no-such-kernel", "--kernels", str(kernels), "--out", str(tmp_path))
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert "no kernel 'no-such-kernel'" in line
    assert MINIMAL in line


def test_garbage_kernel_image_is_refused_before_booting(tmp_path: Path) -> None:
    need_vm()
    garbage = tmp_path / "bzImage"
    garbage.write_bytes(bytes(range(256)) * 64)
    run = swapdiff_kernel("--vm", str(garbage), "--steps", "5", "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert "is not a bootable x86 kernel image" in one_line(run.stderr)
    assert not (tmp_path / "out" / "console.log").exists()


def test_truncated_kernel_image_fails_in_qemu_as_one_line(tmp_path: Path) -> None:
    """A real bzImage header with the rest cut off: QEMU (or the guest) fails, the run says so."""
    need_vm()
    real = next(KERNELS.glob(f"{MINIMAL}/lib/modules/*/vmlinuz"))
    cut = tmp_path / "vmlinuz"
    cut.write_bytes(real.read_bytes()[: 64 << 10])
    out = tmp_path / "out"
    run = swapdiff_kernel(
        "--vm", str(cut), "--accel", "tcg", "--boot-timeout", "60s", "--steps", "5", *RULES, "--out", str(out)
    )  # fmt: skip
    assert run.returncode == 3
    line = one_line(run.stderr)
    assert "the kernel never started" in line
    assert f"console log: {out / 'console.log'}" in line
    assert (out / "console.log").is_file()


def test_vm_tools_missing_names_the_install_command(tmp_path: Path) -> None:
    need_vm()
    import os

    os_path = os.environ["PATH"]
    try:
        os.environ["PATH"] = str(tmp_path)  # neither vng nor QEMU here
        run = swapdiff_kernel("--vm", MINIMAL, "--kernels", str(KERNELS), "--out", str(tmp_path))
    finally:
        os.environ["PATH"] = os_path
    assert run.returncode == 2
    assert "pip install 'swapdiff[vm]'" in one_line(run.stderr)


def test_guest_that_never_starts_the_lane_ends_at_the_boot_timeout(tmp_path: Path) -> None:
    kernels = need_vm()
    out = tmp_path / "out"
    run = swapdiff_kernel(
        "--vm", MINIMAL, "--kernels", str(kernels), "--accel", "tcg", "--steps", "5", *RULES,
        "--guest-setup", "sleep 100000", "--boot-timeout", "45s", "--out", str(out),
        timeout=45 + 240,
    )  # fmt: skip
    assert run.returncode == 3
    line = one_line(run.stderr)
    assert "the guest did not start the lane within 45 s" in line
    assert f"console log: {out / 'console.log'}" in line
    assert (out / "console.log").stat().st_size > 0


def test_guest_kernel_panic_is_one_line_naming_the_panic(tmp_path: Path) -> None:
    kernels = need_vm()
    out = tmp_path / "out"
    run = swapdiff_kernel(
        "--vm", MINIMAL, "--kernels", str(kernels), "--accel", "tcg", "--steps", "5", *RULES,
        "--guest-setup", "echo c > /proc/sysrq-trigger; sleep 100000", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 3
    line = one_line(run.stderr)
    assert "Kernel panic" in line and "sysrq" in line.lower()
    assert str(out / "console.log") in line


def test_ctrl_c_while_booting_kills_qemu(tmp_path: Path) -> None:
    kernels = need_vm()
    out = tmp_path / "out"
    proc = start(
        "--vm", MINIMAL, "--kernels", str(kernels), "--accel", "tcg",
        "--steps", "5", *RULES, "--out", str(out),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not qemus_of(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert qemus_of(proc.pid), "QEMU never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "interrupted" in err
    assert qemus_of(proc.pid) == []


def test_difference_at_the_first_swapon_is_a_divergence_with_a_trace(tmp_path: Path) -> None:
    """Issue 24 item 4: on 1K-block ext4 the kernel's swap file loses pages at swapon (its
    extents are not page aligned); that is exit 1 with a trace, not an internal error."""
    kernels = need_vm()
    out = tmp_path / "out"
    lane_dir = "/var/tmp/swapdiff-kernel"  # where the scratch disk is mounted
    one_k = f"umount {lane_dir} && mkfs.ext4 -q -F -b 1024 /dev/vda && mount -t ext4 /dev/vda {lane_dir}"
    run = swapdiff_kernel(
        "--vm", "6.18.15+deb13-amd64", "--kernels", str(kernels), "--accel", "tcg",
        "--steps", "5", "--guest-setup", one_k, "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "internal error" not in run.stderr
    assert "DIVERGENCE at setup (swapon of the lane's first device" in run.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit"] == 1 and summary["step"] is None and summary["steps"] == 0
    assert "Size: kernel" in summary["detail"]
    trace = Path(summary["trace"])
    assert trace.parent == out
    header = json.loads(trace.read_text().splitlines()[0])
    assert header["divergence"].startswith("setup") and header["kernel"].startswith("6.18.15")

    # the trace replays in a VM: the same divergence, now from --replay
    again = swapdiff_kernel(
        "--vm", "6.18.15+deb13-amd64", "--kernels", str(kernels), "--accel", "tcg",
        "--replay", str(trace), "--guest-setup", one_k, "--out", str(tmp_path / "replay"),
    )  # fmt: skip
    assert again.returncode == 1, again.stderr
    replayed = json.loads((tmp_path / "replay" / "summary.json").read_text())
    assert replayed["detail"] == summary["detail"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vm", "a", "--vm", "b"], "several --vm kernels need --matrix"),
        (["--matrix", "--vm", "a", "--replay", "t.jsonl"], "--matrix runs random actions"),
        (["--vm", "a", "--accel", "fast"], "argument --accel: invalid choice"),
    ],
)
def test_vm_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    run = swapdiff_kernel(*args, "--out", str(tmp_path))
    assert run.returncode == 2
    assert message in one_line(run.stderr)


def test_the_lane_in_a_guest_needs_only_the_standard_library_and_the_checkout() -> None:
    """The guest runs the lane as `python -S` (no site-packages: every import over 9p costs
    seconds under TCG, and importing Numba took minutes); its command imports nothing else."""
    code = (
        f"import sys, sysconfig; root = {str(REPO)!r}; sys.path.insert(0, root); "
        "import fuzz.cli.command, fuzz.kernel.cli, fuzz.kernel.lane; "
        "std = sysconfig.get_paths()['stdlib']; "
        "print([m for m, v in sys.modules.items() if getattr(v, '__file__', None) "
        "and not v.__file__.startswith((std, root))])"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]"
    assert " -S -m fuzz.cli kernel " in vm.guest_script(["--steps", "1"], REPO / "out", None)


def test_a_host_with_udev_gets_a_one_line_note_and_one_without_none(tmp_path: Path, monkeypatch) -> None:
    udevd = tmp_path / "systemd-udevd"
    monkeypatch.setattr(vm, "HOST_UDEVD", (tmp_path / "absent", udevd))
    assert vm.udev_notice() is None
    udevd.touch()
    note = vm.udev_notice()
    assert note is not None and "\n" not in note and str(udevd) in note and "does not need it" in note
