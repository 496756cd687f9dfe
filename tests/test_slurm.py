"""The workflow through a real SLURM: `snakemake --profile profiles/slurm` on a private one-node cluster.

The cluster (tests/slurm_cluster.py) is started once for this module and stopped at
its end. Assertions read SLURM's own records (`scontrol show job`): the plugin names
each job's rule in its comment (``rule_<name>`` or ``rule_<name>_wildcards_<...>``)
and the GPU request shows as ``TresPerJob=gres:gpu:1``.

Skipped, with the reason, only where SLURM is missing and cannot be installed (not
root, or no apt-get); under CI (``CI`` set) that is a failure instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from slurm_cluster import SlurmCluster, SlurmUnavailable, ensure_slurm_installed

from conftest import REPO, SNAKEMAKE, make_workdir, snakemake

pytestmark = pytest.mark.slurm

PROFILE = REPO / "profiles" / "slurm"
# Test-only overrides: poll every few seconds instead of every 40 s (kind to a real
# scheduler, slow for a test), squeue because this cluster keeps no accounting, no
# retries so that a failure shows at once.
FAST = (
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--seconds-between-status-checks", "3",
    "--latency-wait", "5",
    "--retries", "0",
)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        ensure_slurm_installed()
        cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
        cluster.start()
    except SlurmUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"SLURM is required in CI: {exc}")
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


def declared_localrules(*files: Path) -> set[str]:
    """Rule names in `localrules:` directives."""
    names = set()
    for f in files:
        for m in re.finditer(r"^localrules:\s*(.+)$", f.read_text(), re.M):
            names |= {n.strip() for n in m.group(1).split(",") if n.strip()}
    return names


def slurm_jobs_since(cluster: SlurmCluster, after: int) -> list[dict[str, str]]:
    return [j for j in cluster.jobs() if int(j["JobId"]) > after]


def rule_of(job: dict[str, str]) -> str:
    m = re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", job.get("Comment", ""))
    assert m, f"SLURM job {job['JobId']} has no rule comment: {job.get('Comment')!r}"
    return m.group(1)


def last_job_id(cluster: SlurmCluster) -> int:
    return max((int(j["JobId"]) for j in cluster.jobs()), default=0)


def test_cluster_schedules_a_gpu_job(cluster, tmp_path):
    out = tmp_path / "gpu.out"
    job_id = cluster.sbatch(
        "--gpus=1", "--cpus-per-task=1", "--mem=100", "-o", str(out), "--wrap", "echo gpus=$CUDA_VISIBLE_DEVICES"
    )
    info = cluster.wait_for(job_id)
    assert info["JobState"] == "COMPLETED", info
    assert info["TresPerJob"] == "gres:gpu:1"
    assert out.read_text().strip() == "gpus=0"


def test_profile_maps_rule_resources_to_sbatch(cluster, tmp_path):
    """A throwaway three-rule workflow: a local rule, a plain job, a gpu=1 job."""
    (tmp_path / "Snakefile").write_text(
        """\
localrules: first

rule all:
    input: "c.txt"

rule first:
    output: "a.txt"
    shell: "echo first > {output}"

rule middle:
    input: "a.txt"
    output: "b.txt"
    threads: 2
    resources: mem_mb=500, runtime=5
    shell: "cat {input} > {output}; echo middle >> {output}"

rule gpu_job:
    input: "b.txt"
    output: "c.txt"
    threads: 4
    resources: mem_mb=3000, runtime=30, gpu=1
    shell: "cat {input} > {output}; echo gpus=$CUDA_VISIBLE_DEVICES >> {output}"
"""
    )
    before = last_job_id(cluster)
    proc = subprocess.run(
        [*SNAKEMAKE, "-s", str(tmp_path / "Snakefile"), "-d", str(tmp_path), "--profile", str(PROFILE), *FAST],
        env=cluster.env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert (tmp_path / "c.txt").read_text().split() == ["first", "middle", "gpus=0"]
    jobs = {rule_of(j): j for j in slurm_jobs_since(cluster, before)}
    assert set(jobs) == {"middle", "gpu_job"}
    middle, gpu = jobs["middle"], jobs["gpu_job"]
    assert (middle["NumCPUs"], middle["MinMemoryNode"], middle["TimeLimit"]) == ("2", "500M", "00:05:00")
    assert (gpu["NumCPUs"], gpu["MinMemoryNode"], gpu["TimeLimit"]) == ("4", "3000M", "00:30:00")
    assert gpu["TresPerJob"] == "gres:gpu:1"
    assert "gpu" not in middle.get("TresPerJob", "")


def snakemake_in(workdir: Path, cluster: SlurmCluster, *args: str):
    """Snakemake through the SLURM profile, talking to this cluster."""
    return snakemake(workdir, "--profile", str(PROFILE), *FAST, *args, env={"SLURM_CONF": str(cluster.conf)})


def test_tiny_workflow_runs_as_slurm_jobs(cluster, music_server, tmp_path):
    wd = make_workdir(tmp_path / "wd", music_server)
    before = last_job_id(cluster)
    start = time.monotonic()
    # An absolute --configfile: Snakemake reads it before moving into the -d workdir.
    run = snakemake_in(wd, cluster, "--configfile", str(wd / "config" / "test.yaml"))
    seconds = time.monotonic() - start

    # It finished: the last stage's outputs are there and nothing is left to do.
    assert (wd / "results" / "generated" / "manifest.csv").is_file()
    assert (wd / "results" / "model" / "generator.weights.h5").is_file()
    assert "steps (100%) done" in run.output

    # Every job Snakemake ran went through SLURM, except declared local rules and
    # rules without an action (`all`), which Snakemake runs itself.
    local = declared_localrules(REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk")))
    ran = Counter(run.rules)
    printed_local = set(re.findall(r"^local(?:rule|checkpoint) (\w+):", run.output, re.M))
    assert printed_local <= local | {"all"}, f"ran locally but not declared local: {printed_local - local - {'all'}}"
    expected = Counter({rule: n for rule, n in ran.items() if rule not in local | {"all"}})
    slurm_jobs = slurm_jobs_since(cluster, before)
    assert Counter(rule_of(j) for j in slurm_jobs) == expected
    assert {"download", "segment", "mel", "pack", "train", "generate"} <= set(expected)
    assert all(j["JobState"] == "COMPLETED" for j in slurm_jobs), [(j["JobId"], j["JobState"]) for j in slurm_jobs]

    # The GPU is asked for once, on train, and SLURM recorded it.
    gpu_rules = {rule_of(j) for j in slurm_jobs if "gpu" in j.get("TresPerJob", "")}
    assert gpu_rules == {"train"}
    (train,) = [j for j in slurm_jobs if rule_of(j) == "train"]
    assert train["TresPerJob"] == "gres:gpu:1"
    print(f"workflow through SLURM: {len(slurm_jobs)} jobs in {seconds:.0f} s")
