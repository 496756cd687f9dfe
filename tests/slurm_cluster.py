"""A real, private, single-node SLURM cluster for tests (Debian's slurm-wlm and munge, run as root).

Everything lives in one folder: the munge key and socket, slurm.conf, gres.conf,
state, spool, pid and log files. The daemons listen on free ports and munged on its
own socket, so a system SLURM or munge on the same machine is neither used nor
disturbed. Clients find this cluster through ``SLURM_CONF``: use :attr:`SlurmCluster.env`
for every sbatch/squeue/scontrol call and for Snakemake itself (its SLURM executor
calls those tools, and jobs inherit the variable through ``--export=ALL``).

    with SlurmCluster(tmp_path / "slurm") as cluster:
        job_id = cluster.sbatch("--gpus=1", "--wrap", "true")
        cluster.wait_for(job_id)
        assert cluster.job(job_id)["TresPerJob"] == "gres:gpu:1"

Inside a job, Snakemake's jobstep executor runs the rule through ``srun`` with every
``SLURM_*`` variable removed, SLURM_CONF included, so ``srun`` reads the system
configuration as on a real cluster. The cluster therefore links ``/etc/slurm/slurm.conf``
to its own configuration while it runs (only when no such file exists; it refuses to
replace a real one) and removes the link on exit. One cluster per machine at a time; a
link and daemons left by a test run that was killed are cleared at the next start.

The node advertises more CPUs and memory than this machine has
(``SlurmdParameters=config_overrides``) so that rules keep their real ``threads``
and ``mem_mb`` (train asks for 4 CPUs and 16 GB); it has one ``gpu`` generic
resource backed by ``/dev/null``, enough for ``--gpus=1`` to be scheduled.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("munge", "unmunge", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
APT_PACKAGES = ("slurm-wlm", "munge")
# Where SLURM's client commands look when SLURM_CONF is unset (Debian's build).
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
# The pid of the test process that started a cluster, in its folder: a stale link whose
# owner is gone is cleared at the next start (see reap_abandoned_link).
OWNER_FILE = "owner.pid"


class SlurmUnavailable(RuntimeError):
    """SLURM is not installed and cannot be installed here (not root, or no apt-get)."""


class SlurmError(RuntimeError):
    """Installing or starting SLURM went wrong; the message carries the daemons' logs."""


def missing_tools() -> list[str]:
    return [tool for tool in DAEMONS + CLIENTS if shutil.which(tool) is None]


def ensure_slurm_installed() -> None:
    """Install slurm-wlm and munge with apt-get when any of their programs is missing.

    Raises SlurmUnavailable when they are missing and cannot be installed here (not
    root, or no apt-get), SlurmError when apt-get fails.
    """
    if not missing_tools():
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable(f"SLURM is not installed ({', '.join(missing_tools())} missing) and this is not root")
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable(
            f"SLURM is not installed ({', '.join(missing_tools())} missing) and apt-get is unavailable"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SlurmError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    if missing_tools():
        raise SlurmError(f"still missing after apt-get install: {', '.join(missing_tools())}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def reap_abandoned_link(link: Path) -> None:
    """Clear what a test cluster whose test process died (killed, or out of time) left behind.

    Such a run leaves ``link`` (the /etc/slurm/slurm.conf symlink), often its folder and
    sometimes its daemons. Only a dangling link, or a link into a folder this module wrote
    (it holds OWNER_FILE) whose owner is gone, is touched: a real configuration, or a
    cluster whose tests still run, stays as it is.
    """
    if not link.is_symlink():
        return
    folder = Path(os.readlink(link)).parent
    owner = _read_pid(folder / OWNER_FILE)
    if link.exists() and (owner is None or _alive(owner)):
        return
    for daemon in reversed(DAEMONS):
        pid = _read_pid(folder / "run" / f"{daemon}.pid")
        if pid is not None and _alive(pid) and command_name(pid) == daemon:
            os.kill(pid, signal.SIGKILL)
    link.unlink()


def command_name(pid: int) -> str:
    """The kernel's name of process ``pid`` (/proc/PID/comm), or '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_scontrol(line: str) -> dict[str, str]:
    """`scontrol show job -o` prints one job per line as Key=Value pairs separated by spaces.

    Values may contain spaces (Comment, Command with arguments) but never `` Key=``,
    so split on spaces and glue a token without ``=`` onto the previous value.
    """
    fields: dict[str, str] = {}
    key = None
    for token in line.split(" "):
        name, sep, value = token.partition("=")
        if sep and name and name.replace(":", "").replace("/", "").isalnum():
            key = name
            fields[key] = value
        elif key is not None:
            fields[key] += " " + token
    return {k: v.strip() for k, v in fields.items()}


class SlurmCluster:
    """Start munged, slurmctld and slurmd in ``workdir``; stop them and clean up on exit.

    ``cpus`` and ``memory_mb`` are what the node advertises (not checked against the
    hardware); ``gpus`` (0 or 1) is the count of the node's ``gpu`` generic resource.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        cpus: int = 8,
        memory_mb: int = 32000,
        gpus: int = 1,
        min_job_age: int = 900,
        start_timeout: float = 60.0,
        keep: bool = False,
    ):
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.mkdtemp(prefix="slurm-")
            workdir = Path(self._tmp)
        self.dir = Path(workdir).resolve()
        if gpus not in (0, 1):
            raise ValueError(f"gpus={gpus}: one stand-in device (/dev/null) backs at most one GPU")
        self.cpus, self.memory_mb, self.gpus = cpus, memory_mb, gpus
        self.min_job_age = min_job_age
        self.start_timeout = start_timeout
        self.keep = keep
        self.conf = self.dir / "slurm.conf"
        self.munge_socket = self.dir / "munge" / "munge.socket"
        self.logs = {name: self.dir / "log" / f"{name}.log" for name in DAEMONS}
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._procs: dict[str, subprocess.Popen] = {}
        self._linked_system_conf = False

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if os.geteuid() != 0:
            raise SlurmUnavailable("a private SLURM cluster needs root (slurmd runs jobs as their users)")
        ensure_slurm_installed()
        try:
            self._write_files()
            self._link_system_conf()
            self._start_munged()
            self._spawn("slurmctld", ["slurmctld", "-D", "-c", "-f", str(self.conf)])
            self._wait_until(self._controller_answers, "slurmctld to answer `scontrol ping`")
            self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost", "-f", str(self.conf)])
            self._wait_until(lambda: self.node_state().startswith("idle"), "the node to be idle in sinfo")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop the daemons (newest first), remove the folder."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user", "root"], env=self.env, capture_output=True, timeout=30)
            deadline = time.monotonic() + 15
            while self.squeue_active() and time.monotonic() < deadline:
                time.sleep(0.5)
        for name in reversed(list(self._procs)):
            proc = self._procs.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        if self._linked_system_conf:
            if SYSTEM_CONF.is_symlink() and SYSTEM_CONF.resolve() == self.conf:
                SYSTEM_CONF.unlink()
            self._linked_system_conf = False
        if not self.keep:
            shutil.rmtree(self.dir if self._tmp is None else self._tmp, ignore_errors=True)

    # -- files and daemons ------------------------------------------------------------------

    def _write_files(self) -> None:
        for sub in ("munge", "log", "state", "spool", "run"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        key = self.dir / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        ctld_port, slurmd_port = _free_port(), _free_port()
        while slurmd_port == ctld_port:
            slurmd_port = _free_port()
        # Private SLURM on 127.0.0.1: no accounting (so no sacct; keep finished jobs in
        # slurmctld for `MinJobAge` seconds so that squeue/scontrol still see them), no
        # cgroups (proctrack/linuxproc, task/none), consumable cores and GPUs (cons_tres).
        (self.dir / OWNER_FILE).write_text(str(os.getpid()))
        self.conf.write_text(
            f"""\
ClusterName=testcluster
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.dir}/state
SlurmdSpoolDir={self.dir}/spool/%n
SlurmctldPidFile={self.dir}/run/slurmctld.pid
SlurmdPidFile={self.dir}/run/slurmd.pid
SlurmctldLogFile={self.logs["slurmctld"]}
SlurmdLogFile={self.logs["slurmd"]}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge={self.min_job_age}
MailProg=/bin/true
MpiDefault=none
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} {"Gres=gpu:1 " if self.gpus else ""}State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
        )
        # A GPU generic resource needs a device file; /dev/null stands in for one
        # (a bare Count= leaves the node INVAL).
        (self.dir / "gres.conf").write_text("NodeName=localhost Name=gpu File=/dev/null\n" if self.gpus else "")

    def _link_system_conf(self) -> None:
        reap_abandoned_link(SYSTEM_CONF)
        if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
            raise SlurmError(
                f"{SYSTEM_CONF} exists (a real SLURM configuration, or another test cluster): "
                "not replacing it; srun inside jobs would read it instead of this cluster's"
            )
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(self.conf)
        self._linked_system_conf = True

    def _start_munged(self) -> None:
        # As root with --force: the folder lies under /tmp, which munged would reject
        # as insecure for its socket otherwise.
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={self.dir / 'munge' / 'munge.key'}",
                f"--pid-file={self.dir / 'run' / 'munged.pid'}",
                f"--seed-file={self.dir / 'munge' / 'munged.seed'}",
                f"--log-file={self.logs['munged']}",
            ],
        )
        # slurmd that starts before munged answers fails to register: wait for a round trip.
        self._wait_until(self._munge_answers, "munged to answer munge -n | unmunge")

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.dir / "log" / f"{name}.stdout", "ab")
        self._procs[name] = subprocess.Popen(
            cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        out.close()

    def _munge_answers(self) -> bool:
        cred = subprocess.run(["munge", "-n", "-S", str(self.munge_socket)], capture_output=True)
        if cred.returncode != 0:
            return False
        check = subprocess.run(["unmunge", "-S", str(self.munge_socket)], input=cred.stdout, capture_output=True)
        return check.returncode == 0

    def _controller_answers(self) -> bool:
        proc = subprocess.run(["scontrol", "ping"], env=self.env, capture_output=True, text=True)
        return proc.returncode == 0 and "UP" in proc.stdout

    def _wait_until(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmError(f"{name} exited ({proc.returncode}) while waiting for {what}\n{self.log_tails()}")
            if ready():
                return
            time.sleep(0.5)
        raise SlurmError(f"timed out after {self.start_timeout:.0f} s waiting for {what}\n{self.log_tails()}")

    def log_tails(self, chars: int = 3000) -> str:
        parts = []
        for path in sorted((self.dir / "log").glob("*")):
            text = path.read_text(errors="replace")[-chars:]
            if text.strip():
                parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts)

    # -- queries ----------------------------------------------------------------------------

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        return proc

    def node_state(self) -> str:
        proc = self.run("sinfo", "-h", "-N", "-o", "%T", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def sbatch(self, *args: str) -> str:
        """Submit a job; return its id."""
        return self.run("sbatch", "--parsable", *args).stdout.strip().split(";")[0]

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld remembers (running, pending, and finished within MinJobAge)."""
        out = self.run("scontrol", "show", "job", "-o", check=False).stdout
        return [parse_scontrol(line) for line in out.splitlines() if line.startswith("JobId=")]

    def job(self, job_id: str) -> dict[str, str]:
        return parse_scontrol(self.run("scontrol", "show", "job", "-o", str(job_id)).stdout.strip())

    def squeue_active(self) -> list[str]:
        out = self.run("squeue", "-h", "-o", "%i", check=False).stdout
        return out.split()

    def wait_for(self, job_id: str, timeout: float = 60.0) -> dict[str, str]:
        """Wait until the job has ended; return its scontrol record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.job(job_id)
            if info.get("JobState") not in {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED"}:
                return info
            time.sleep(0.5)
        raise TimeoutError(f"job {job_id} still {info.get('JobState')} after {timeout} s\n{self.log_tails()}")
