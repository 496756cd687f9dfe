"""Bad input gets a clear reason and loses nothing: real files, a loopback server, real Snakemake."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import REPO, SNAKEMAKE, make_workdir, snakemake

pytestmark = pytest.mark.workflow

QUICK = {"train": {"epochs": 1}, "generate": {"n_clips": 2}}


@pytest.fixture(scope="module")
def bad_server(music_server):
    root = music_server.root
    (root / "corrupt.mp3").write_bytes(np.random.default_rng(0).bytes(20000))
    sf.write(root / "short.wav", np.sin(np.arange(8000) / 5).astype(np.float32) * 0.5, 16000)  # 0.5 s
    sf.write(root / "silence.wav", np.zeros(3 * 16000, np.float32), 16000)
    music_server.add_piece("titled.wav", seconds=2.0, seed=9)
    feed = music_server.add_feed("evil.xml", ["titled.wav"])
    (root / "evil.xml").write_text(
        (root / "evil.xml").read_text().replace("Episode 1: titled.wav", "../../etc/ü ✓ a/b\\c ..")
    )
    return music_server, feed


def write_sources(wd, rows):
    (wd / "config" / "sources.tsv").write_text("name\turl\n" + "".join(f"{n}\t{u}\n" for n, u in rows))


def final_tracks(wd):
    return pd.read_csv(wd / "results" / "tracks.tsv", sep="\t", keep_default_na=False)


@pytest.fixture(scope="module")
def skipped_run(tmp_path_factory, bad_server):
    server, feed = bad_server
    wd = make_workdir(tmp_path_factory.mktemp("bad"), server, overrides=QUICK)
    write_sources(wd, [
        ("good", server.url("direct.wav")), ("gone", server.url("no-such-file.wav")), ("corrupt", server.url("corrupt.mp3")),
        ("short", server.url("short.wav")), ("silence", server.url("silence.wav")), ("again", server.url("direct.wav")),
        ("evil/../name", feed), ("ftp", "ftp://example.org/a.mp3"), ("missing", "local/does-not-exist.wav"),
    ])  # fmt: skip
    run = snakemake(wd, "--configfile", "config/test.yaml")
    return wd, run


def test_bad_tracks_are_skipped_with_reasons_and_the_run_finishes(skipped_run):
    wd, run = skipped_run
    table = final_tracks(wd).set_index("source")
    status = table["status"].to_dict()
    assert status["good"] == "ok" and status["evil/../name"] == "ok"
    assert status["gone"] == "failed" and "404" in table.loc["gone", "reason"]
    assert status["corrupt"] in {"download-failed", "undecodable"} and table.loc["corrupt", "reason"]
    assert status["short"] == "too-short" and "shorter than one" in table.loc["short", "reason"]
    assert status["silence"] == "silent" and "below -60" in table.loc["silence", "reason"]
    assert status["again"] == "duplicate"
    assert status["ftp"] == "failed" and "scheme 'ftp'" in table.loc["ftp", "reason"]
    assert status["missing"] == "failed" and "does not exist" in table.loc["missing", "reason"]
    assert len(list((wd / "results" / "generated").glob("clip_*.wav"))) == 2
    log = (wd / "results" / "logs" / "track_status.log").read_text()
    assert log.count("WARNING audiowgan: track ") == len(table) - 2


def test_silent_segments_are_counted_in_index_and_logs(skipped_run, tmp_path, bad_server):
    wd, _ = skipped_run
    table = final_tracks(wd).set_index("source")
    assert table.loc["silence", "silent_segments"] == 3
    index = pd.read_csv(wd / "results" / "dataset" / "index.csv")
    silence_track = table.loc["silence", "track"]
    # The silent track gives no spectrogram, so it is not packed; its segments show in its logs.
    assert "3 silent dropped" in (wd / "results" / "logs" / "segment" / f"{silence_track}.log").read_text()
    assert set(index["split"]) <= {"train", "heldout", "silent"}


def test_ids_and_files_never_leave_results(skipped_run):
    wd, _ = skipped_run
    table = final_tracks(wd)
    assert table["track"].str.fullmatch(r"[A-Za-z0-9_-]{1,64}").all()
    evil = table[table["source"] == "evil/../name"].iloc[0]
    assert evil["title"] == "../../etc/ü ✓ a/b\\c .."
    allowed = {"results", "config", "local", ".snakemake"}
    assert {p.name for p in wd.iterdir()} <= allowed
    for path in (wd / "results").rglob("*"):
        assert path.resolve().is_relative_to((wd / "results").resolve())


def test_on_error_fail_stops_before_training(tmp_path, bad_server):
    server, _ = bad_server
    wd = make_workdir(tmp_path, server, overrides={**QUICK, "on_error": "fail"})
    write_sources(wd, [("good", server.url("direct.wav")), ("gone", server.url("no-such-file.wav"))])
    run = snakemake(wd, "--configfile", "config/test.yaml", check=False)
    assert run.returncode != 0
    assert "on_error is 'fail'" in run.output and "no-such-file.wav" in run.output
    assert not (wd / "results" / "model").exists()
    assert (wd / "results" / "dataset" / "mels.npy").exists()  # finished work is kept


def test_nothing_usable_stops_with_one_clear_error(tmp_path, bad_server):
    server, _ = bad_server
    wd = make_workdir(tmp_path, server, overrides=QUICK)
    write_sources(wd, [("short", server.url("short.wav")), ("silence", server.url("silence.wav"))])
    run = snakemake(wd, "--configfile", "config/test.yaml", check=False)
    assert run.returncode != 0 and "no usable track" in run.output
    write_sources(wd, [("gone", server.url("no-such-file.wav"))])
    run = snakemake(wd, "--configfile", "config/test.yaml", check=False)
    assert run.returncode != 0 and "no usable track" in run.output and "404" in run.output


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--config", "mel={hop_length: abc}"], "'mel.hop_length' = 'abc': must be an integer"),
        (["--config", "mel={hop_length: 0}"], "'mel.hop_length' = 0: must be >= 1"),
        (["--config", "mel={hop_length: 4096}"], "hop_length=4096 must not exceed n_fft=512"),
        (["--config", "mel={n_mels: 500}"], "n_mels=500 exceeds what n_fft=512 supports"),
        (["--config", "train={batch_size: -4}"], "'train.batch_size' = -4: must be >= 1"),
        (["--config", "sources=nowhere.tsv"], "'sources' = 'nowhere.tsv': the file does not exist"),
        (["--config", "mel={hop_lenght: 256}"], "unknown config key 'mel.hop_lenght'"),
    ],
)
def test_config_errors_stop_before_any_job_with_one_line(tmp_path, music_server, args, expected):
    wd = make_workdir(tmp_path, music_server)
    run = snakemake(wd, "--configfile", "config/test.yaml", *args, check=False)
    assert run.returncode != 0
    lines = [line for line in run.output.splitlines() if "invalid configuration" in line]
    assert len(lines) == 1 and expected in lines[0], run.output
    assert "Traceback" not in run.output
    assert not (wd / "results").exists()


def test_config_numbers_as_strings_are_accepted(tmp_path, music_server):
    wd = make_workdir(tmp_path, music_server)
    snakemake(
        wd, "--configfile", "config/test.yaml", "-n", "--config", "mel={hop_length: '128'}", "train={gp_weight: '5'}"
    )


def started_jobs(output: str) -> dict[str, tuple[str, str]]:
    """{jobid: (rule, wildcards)} of every job a Snakemake log shows starting."""
    jobs = {}
    for rule, body in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n)+)", output, flags=re.M):
        wildcards = re.search(r"^\s+wildcards: (.*)$", body, re.M)
        jobs[re.search(r"^\s+jobid: (\d+)$", body, re.M).group(1)] = (rule, wildcards.group(1) if wildcards else "")
    return jobs


def finished_jobs(output: str) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a Snakemake log reports as finished."""
    started = started_jobs(output)
    return {started[jobid] for jobid in re.findall(r"Finished jobid: (\d+)", output)}


def test_killed_run_resumes_to_the_same_results(tmp_path, music_server, finished_workdir):
    wd = make_workdir(tmp_path, music_server)
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--cores", "2", "--configfile", "config/test.yaml"]
    killed_log = tmp_path / "killed.log"
    with open(killed_log, "w") as log:
        proc = subprocess.Popen(cmd, cwd=wd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((wd / "results").glob("mel/*/00000.npy")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up at all: the worst case
    proc.wait()
    assert not (wd / "results" / "model").exists(), "the run finished before it could be killed"
    # After a SIGKILL Snakemake's lock stays behind; --unlock is its documented remedy.
    snakemake(wd, "--configfile", "config/test.yaml", "--unlock")
    # Up to train: what it checks ends there (profiles/default sets rerun-incomplete).
    resumed = snakemake(wd, "--configfile", "config/test.yaml", "--until", "train")
    # A resume, not a restart: nothing that finished before the kill runs again.
    done = finished_jobs(killed_log.read_text())
    assert {"tracks", "download", "segment"} <= {rule for rule, _ in done}, done
    redone = done & set(started_jobs(resumed.output).values())
    assert not redone, f"the resumed run redid finished jobs: {sorted(redone)}"
    assert np.array_equal(
        np.load(wd / "results" / "dataset" / "mels.npy"), np.load(finished_workdir / "results" / "dataset" / "mels.npy")
    )
    assert (wd / "results" / "model" / "losses.csv").read_text().splitlines()[0].startswith("epoch,step")
    same = ["d_loss", "g_loss", "gradient_penalty", "wasserstein"]
    a = pd.read_csv(wd / "results" / "model" / "losses.csv")[same]
    b = pd.read_csv(finished_workdir / "results" / "model" / "losses.csv")[same]
    pd.testing.assert_frame_equal(a, b)
