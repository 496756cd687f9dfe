"""The test cluster's own housekeeping: what a killed test run left is cleared, nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from slurm_cluster import OWNER_FILE, command_name, reap_abandoned_link


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def started_as(name: str, argv: list[str]) -> subprocess.Popen:
    """Start ``argv`` and return once the kernel names it ``name``: Popen can return before the new
    program's name replaces the parent's in /proc/PID/comm (measured: 1 start in 300 read 'python3')."""
    proc = subprocess.Popen(argv)
    deadline = time.monotonic() + 10
    while command_name(proc.pid) != name:  # what reap_abandoned_link checks
        assert time.monotonic() < deadline, f"{argv[0]} did not start as {name}"
        time.sleep(0.01)
    return proc


def cluster_folder(path, owner: int):
    (path / "run").mkdir(parents=True)
    (path / "slurm.conf").write_text("ClusterName=testcluster\n")
    (path / OWNER_FILE).write_text(str(owner))
    return path


def test_a_dangling_link_is_removed(tmp_path):
    link = tmp_path / "slurm.conf"
    link.symlink_to(tmp_path / "gone" / "slurm.conf")
    reap_abandoned_link(link)
    assert not link.is_symlink()


def test_a_link_and_daemon_of_a_dead_test_run_are_cleared(tmp_path):
    folder = cluster_folder(tmp_path / "old", owner=dead_pid())
    fake = tmp_path / "slurmd"  # a process whose command name is slurmd, as the daemon's is
    shutil.copy(shutil.which("sleep"), fake)
    daemon = started_as("slurmd", [str(fake), "300"])
    (folder / "run" / "slurmd.pid").write_text(f"{daemon.pid}\n")
    link = tmp_path / "slurm.conf"
    link.symlink_to(folder / "slurm.conf")
    reap_abandoned_link(link)
    assert not link.is_symlink()
    assert daemon.wait(timeout=10) == -9


def test_a_running_cluster_and_a_real_configuration_are_left_alone(tmp_path):
    live = tmp_path / "live.conf"
    live.symlink_to(cluster_folder(tmp_path / "live", owner=os.getpid()) / "slurm.conf")
    real = tmp_path / "etc" / "slurm.conf"
    real.parent.mkdir()
    real.write_text("ClusterName=site\n")
    linked_real = tmp_path / "real.conf"
    linked_real.symlink_to(real)
    for link in (live, linked_real, real):
        reap_abandoned_link(link)
    assert live.is_symlink() and linked_real.is_symlink() and real.read_text() == "ClusterName=site\n"
