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

import pandas as pd
import pytest
import yaml
from slurm_cluster import SlurmCluster, SlurmUnavailable, ensure_slurm_installed

from conftest import REPO, SNAKEMAKE, TINY_CONFIG, Run, make_workdir

# One SLURM cluster at a time on a machine (it links the system's slurm.conf), so every test that needs one stays in
# this file: `make test`'s pytest-xdist workers take a file each (--dist loadfile), and its module fixture starts once.
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
    """Rule names in `localrules:` directives, on one line or (as snakefmt writes them) indented below."""
    names = set()
    for f in files:
        for m in re.finditer(r"^localrules:(.*\n(?:[ \t]+\S.*\n)*)", f.read_text(), re.M):
            names |= {n.strip() for n in re.split(r"[,\s]+", m.group(1)) if n.strip()}
    return names


def slurm_jobs_since(cluster: SlurmCluster, after: int) -> list[dict[str, str]]:
    return [j for j in cluster.jobs() if int(j["JobId"]) > after]


PER_TRACK = {"download", "segment", "mel"}  # the rules of group "track"
TRACKS_PER_JOB = 2


def rule_of(job: dict[str, str]) -> str:
    """The rule a SLURM job ran, from the comment the plugin writes; ``group_track`` for a group job."""
    comment = job.get("Comment", "")
    if re.fullmatch(r"rule_track_download_mel_segment(?:_wildcards_.*)?", comment):
        return "group_track"
    m = re.fullmatch(r"rule_(\w+?)(?:_wildcards_.*)?", comment)
    assert m, f"SLURM job {job['JobId']} has no rule comment: {comment!r}"
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


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    """The repo's workflow through the SLURM profile, as a user runs it (no --cores: that would cap threads)."""
    # An absolute --configfile: Snakemake reads it before moving into the -d workdir.
    config = ("--configfile", str(workdir / "config" / "test.yaml"))
    return [
        *SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--profile",
        str(PROFILE),
        *config,  # before the options that take one value: targets may follow them in args
        *FAST,
        *args,
    ]


def snakemake_in(workdir: Path, cluster: SlurmCluster, *args: str) -> Run:
    proc = subprocess.run(snakemake_cmd(workdir, *args), env=cluster.env, capture_output=True, text=True)
    run = Run(proc.returncode, proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{run.output[-6000:]}"
    return run


@pytest.fixture(scope="module")
def slurm_run(cluster, music_server, tmp_path_factory):
    """The tiny workflow run once through SLURM: (workdir, Snakemake's run, the SLURM jobs it submitted)."""
    wd = make_workdir(tmp_path_factory.mktemp("slurm-wd"), music_server)
    before = last_job_id(cluster)
    start = time.monotonic()
    # Two tracks per group job (the profile's 20 would put all four in one).
    run = snakemake_in(wd, cluster, "--group-components", f"track={TRACKS_PER_JOB}")
    print(f"tiny workflow through SLURM: {time.monotonic() - start:.0f} s")
    return wd, run, slurm_jobs_since(cluster, before)


def test_tiny_workflow_runs_as_slurm_jobs(slurm_run):
    wd, run, slurm_jobs = slurm_run
    (wd / "snakemake-output.txt").write_text(run.output)  # for a failing assertion below

    # It finished.
    assert (wd / "results" / "generated" / "manifest.csv").is_file()
    assert (wd / "results" / "model" / "generator.weights.h5").is_file()
    assert "steps (100%) done" in run.output

    # Every job Snakemake ran went through SLURM, except declared local rules and
    # rules without an action (`all`), which Snakemake runs itself.
    local = declared_localrules(REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk")))
    ran = Counter(run.rules)
    printed_local = set(re.findall(r"^local(?:rule|checkpoint) (\w+):", run.output, re.M))
    assert printed_local <= local | {"all"}, f"ran locally but not declared local: {printed_local - local - {'all'}}"
    expected = Counter({rule: n for rule, n in ran.items() if rule not in local | {"all"} | PER_TRACK})
    # The per-track rules (4 tracks x download, segment, mel) ran as group jobs of TRACKS_PER_JOB tracks each:
    # N / k SLURM jobs instead of 3 N.
    n_tracks = ran["download"]
    assert n_tracks == 4 and ran["segment"] == ran["mel"] == n_tracks
    expected["group_track"] = n_tracks // TRACKS_PER_JOB
    assert Counter(rule_of(j) for j in slurm_jobs) == expected
    assert {"pack", "train", "generate", "longform"} <= set(expected)
    assert all(j["JobState"] == "COMPLETED" for j in slurm_jobs), [(j["JobId"], j["JobState"]) for j in slurm_jobs]

    # The GPU is asked for once, on train, and SLURM recorded it, with the rule's threads.
    gpu_rules = {rule_of(j) for j in slurm_jobs if "gpu" in j.get("TresPerJob", "")}
    assert gpu_rules == {"train"}
    (train,) = [j for j in slurm_jobs if rule_of(j) == "train"]
    assert train["TresPerJob"] == "gres:gpu:1"
    assert train["NumCPUs"] == "2"


def test_train_stopped_by_slurm_resumes_in_the_retry(slurm_run, cluster):
    """SIGTERM to the running train job (what `--signal=TERM@300` does before the time
    limit): it checkpoints and fails, Snakemake resubmits it, the new job resumes."""
    wd, _, _ = slurm_run
    cfg_path = wd / "config" / "test.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["train"].update(epochs=200, checkpoint_every=100)  # about 1000 steps, 10-30 s here
    cfg_path.write_text(yaml.safe_dump(cfg))
    train_log = wd / "results" / "logs" / "train.log"
    before = last_job_id(cluster)
    proc = subprocess.Popen(
        snakemake_cmd(wd, "--retries", "1", "results/model/losses.csv"),  # train alone: the test ends there
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = None
        deadline = time.monotonic() + 180
        while first is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            running = [
                j for j in slurm_jobs_since(cluster, before) if rule_of(j) == "train" and j["JobState"] == "RUNNING"
            ]
            log = train_log.read_text() if train_log.exists() else ""
            if running and re.search(r"epoch (\d{2,})/200 done", log):
                first = running[0]["JobId"]
                cluster.run("scancel", "--signal=TERM", first)
        assert first is not None, "the train job never got going"
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output[-6000:]

    trains = [j for j in slurm_jobs_since(cluster, before) if rule_of(j) == "train"]
    assert [j["JobState"] for j in trains] == ["FAILED", "COMPLETED"], trains
    assert trains[0]["JobId"] == first
    assert "resuming from" in train_log.read_text()
    steps = pd.read_csv(wd / "results" / "model" / "losses.csv")["step"].tolist()
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > 500


def test_two_experiments_are_two_train_jobs_each_with_its_gpu(cluster, slurm_run):
    """A sweep: each experiment's training is its own SLURM job asking for its GPU (side by side given GPUs)."""
    wd, _, _ = slurm_run  # its dataset is packed: the experiments share it, so only their train jobs run
    epochs = {"epochs": TINY_CONFIG["train"]["epochs"]}  # not the long training an earlier test may have set
    exps = {"seed1": {"train": {"seed": 1, **epochs}}, "wide": {"model": {"critic_channels": [8, 32]}, "train": epochs}}
    cfg_path = wd / "config" / "test.yaml"
    cfg_path.write_text(yaml.safe_dump({**yaml.safe_load(cfg_path.read_text()), "experiments": exps}))
    before = last_job_id(cluster)
    targets = [f"results/experiments/{name}/model/losses.csv" for name in exps]
    snakemake_in(wd, cluster, *targets)
    jobs = slurm_jobs_since(cluster, before)
    assert {rule_of(j) for j in jobs} == {"train"}, [rule_of(j) for j in jobs]
    trains = [j for j in jobs if rule_of(j) == "train"]
    # The plugin writes the wildcards into the comment with "/" as "_": rule_train_wildcards_experiments_wide_
    assert sorted(name for j in trains for name in exps if f"_experiments_{name}_" in j["Comment"]) == sorted(exps)
    assert [(j["TresPerJob"], j["NumCPUs"], j["JobState"]) for j in trains] == [("gres:gpu:1", "2", "COMPLETED")] * 2
    for name in exps:
        assert (wd / "results" / "experiments" / name / "model" / "generator.weights.h5").is_file()
