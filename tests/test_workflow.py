"""Whole-workflow tests: real Snakemake, real yt-dlp over loopback HTTP, a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from audiowgan.dsp import audio
from conftest import TINY_CONFIG, dry_run_counts, snakemake

pytestmark = pytest.mark.workflow

SR = TINY_CONFIG["audio"]["sample_rate"]
SEG = TINY_CONFIG["audio"]["segment_seconds"]
HOP = TINY_CONFIG["mel"]["hop_length"]
N_MELS = TINY_CONFIG["mel"]["n_mels"]
LOOK = {"evaluate", "nearest", "plots", "report"}  # read the generated clips
DOWNSTREAM_OF_MEL = {"mel", "pack", "track_status", "train", "generate", "longform", *LOOK, "all"}


def tracks(wd):
    return pd.read_csv(wd / "results" / "tracks.tsv", sep="\t", keep_default_na=False)


def test_tracks_from_direct_link_feed_and_local_file(finished_workdir, music_server):
    table = tracks(finished_workdir)
    assert list(table.columns)[:6] == ["track", "title", "url", "source", "status", "reason"]
    assert (table["segments"] > 0).all()
    assert (table["status"] == "ok").all()
    assert table["source"].tolist() == ["direct", "feed", "feed", "local"]
    assert table["url"].iloc[0] == music_server.url("direct.wav")
    assert [u.split("/")[-1] for u in table["url"].iloc[1:3]] == ["episode-1.wav", "episode-2.wav"]
    assert table["title"].iloc[1].startswith("Episode 1")
    assert table["track"].str.fullmatch(r"[A-Za-z0-9_-]+").all()
    assert table["track"].is_unique


def test_every_stage_writes_its_files(finished_workdir, music_server):
    res = finished_workdir / "results"
    table = tracks(finished_workdir)
    seconds = {"direct": 6.0, "local": 6.0}
    for row in table.itertuples():
        mp3 = res / "audio" / f"{row.track}.mp3"
        assert mp3.stat().st_size > 1000
        wavs = sorted((res / "segments" / row.track).glob("*.wav"))
        expected = int(seconds.get(row.source, 4.0) // SEG)
        # MP3 encoders pad a little; decoding gives at least the original length.
        assert len(wavs) == expected, (row.track, len(wavs))
        for wav in wavs:
            info = sf.info(wav)
            assert info.samplerate == SR and info.channels == 1
            assert info.frames == int(SEG * SR)
        mels = sorted((res / "mel" / row.track).glob("*.npy"))
        assert [m.stem for m in mels] == [w.stem for w in wavs]
        m = np.load(mels[0])
        assert m.dtype == np.float32 and m.shape == (N_MELS, 1 + int(SEG * SR) // HOP)
        assert m.min() >= -1.0 and m.max() == pytest.approx(1.0)


def test_dataset_is_packed_with_index_and_meta(finished_workdir):
    ds = finished_workdir / "results" / "dataset"
    mels = np.load(ds / "mels.npy", mmap_mode="r")
    index = pd.read_csv(ds / "index.csv", dtype={"segment": str})
    index = index[index["split"] != "silent"]
    meta = json.loads((ds / "meta.json").read_text())
    n_segments = sum(len(list(d.glob("*.npy"))) for d in (finished_workdir / "results" / "mel").iterdir())
    assert mels.shape == (n_segments, N_MELS, 1 + int(SEG * SR) // HOP) and mels.dtype == np.float32
    assert len(index) == n_segments and index["row"].tolist() == list(range(n_segments))
    first = index.iloc[0]
    assert np.array_equal(mels[0], np.load(finished_workdir / "results" / "mel" / first.track / f"{first.segment}.npy"))
    for key, value in {"sample_rate": SR, "hop_length": HOP, "n_mels": N_MELS, "n_fft": 512, "top_db": 80}.items():
        assert meta[key] == value
    assert meta["shape"] == list(mels.shape)


def test_training_writes_weights_and_losses(finished_workdir):
    model = finished_workdir / "results" / "model"
    losses = pd.read_csv(model / "losses.csv")
    assert list(losses.columns) == ["epoch", "step", "d_loss", "g_loss", "gradient_penalty", "wasserstein", "seconds"]
    n = json.loads((finished_workdir / "results" / "dataset" / "meta.json").read_text())["n_train"]
    steps = TINY_CONFIG["train"]["epochs"] * (n // TINY_CONFIG["train"]["batch_size"])
    assert losses["step"].tolist() == list(range(1, steps + 1))
    assert np.isfinite(losses[["d_loss", "g_loss", "gradient_penalty", "wasserstein"]].to_numpy()).all()
    assert losses["seconds"].is_monotonic_increasing
    for name in ("generator.weights.h5", "critic.weights.h5", "model.json"):
        assert (model / name).stat().st_size > 0


def test_generated_clips_are_audible_and_unclipped(finished_workdir):
    gen = finished_workdir / "results" / "generated"
    clips = sorted(gen.glob("clip_*.wav"))
    assert [c.name for c in clips] == [f"clip_{i:03d}.wav" for i in range(TINY_CONFIG["generate"]["n_clips"])]
    manifest = pd.read_csv(gen / "manifest.csv")
    assert manifest["clip"].tolist() == [c.name for c in clips]
    for clip in clips:
        samples, sr = sf.read(clip, dtype="float32")
        assert sr == SR and samples.ndim == 1 and len(samples) == int(SEG * SR)
        assert audio.rms_dbfs(samples) > -40, f"{clip.name} is (nearly) silent"
        assert audio.peak_dbfs(samples) <= -0.9, f"{clip.name} clips"


def test_nothing_left_to_do_after_a_complete_run(finished_workdir):
    assert dry_run_counts(finished_workdir, "--configfile", "config/test.yaml") == {}


@pytest.mark.parametrize(
    "change",
    [
        "train={tensorboard: false}",
        "train={tensorboard_image_every: 0}",
        "train={checkpoint_every: 50}",
        "train={require_gpu: true}",
        "download={retries: 0}",
        "download={backoff_seconds: 60}",
    ],
)
def test_changing_a_result_neutral_key_reruns_nothing(finished_workdir, change):
    assert dry_run_counts(finished_workdir, "--configfile", "config/test.yaml", "--config", change) == {}


def test_result_neutral_values_reach_the_script_through_the_config(finished_workdir):
    record = json.loads((finished_workdir / "results" / "model" / "model.json").read_text())
    assert record["train_params"]["checkpoint_every"] == TINY_CONFIG["train"]["checkpoint_every"] != 200


def test_switching_weights_reruns_the_renderers_through_their_input(finished_workdir):
    counts = dry_run_counts(finished_workdir, "--configfile", "config/test.yaml", "--config", "generate={weights: raw}")
    assert set(counts) == {"generate", "longform", *LOOK, "all"}, counts


def test_changing_the_temperature_reruns_the_renderers_and_what_reads_them_only(workdir_copy):
    args = ("--configfile", "config/test.yaml", "--config", "generate={temperature: 1.25}")
    counts = dry_run_counts(workdir_copy, *args)
    assert set(counts) == {"generate", "longform", *LOOK, "all"}, counts
    run = snakemake(workdir_copy, *args)
    assert set(run.rules) == {"generate", "longform", *LOOK, "all"}
    for manifest in ("generated/manifest.csv", "longform/manifest.csv"):  # the rules hand it to the renderers
        assert set(pd.read_csv(workdir_copy / "results" / manifest)["temperature"]) == {1.25}, manifest


def _set(wd, section, key, value):
    path = wd / "config" / "test.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg[section][key] = value
    path.write_text(yaml.safe_dump(cfg))


@pytest.mark.parametrize("how", ["config file", "--config"])
def test_changing_hop_length_reruns_mel_onward_only(workdir_copy, how):
    wd = workdir_copy
    extra = []
    if how == "config file":
        _set(wd, "mel", "hop_length", 128)
    else:
        extra = ["--config", "mel={hop_length: 128}"]  # arrives as the string "128"
    counts = dry_run_counts(wd, "--configfile", "config/test.yaml", *extra)
    n_tracks = len(tracks(wd))
    assert set(counts) == DOWNSTREAM_OF_MEL, counts
    assert counts["mel"] == n_tracks
    if how == "--config":
        return  # the same plan as the config file's: the real run below is the same run
    run = snakemake(wd, "--configfile", "config/test.yaml", *extra)
    assert set(run.rules) == DOWNSTREAM_OF_MEL
    meta = json.loads((wd / "results" / "dataset" / "meta.json").read_text())
    frames = 1 + int(SEG * SR) // 128
    assert meta["hop_length"] == 128 and meta["frames"] == frames
    assert np.load(wd / "results" / "dataset" / "mels.npy", mmap_mode="r").shape[1:] == (N_MELS, frames)
    clip, sr = sf.read(wd / "results" / "generated" / "clip_000.wav")
    assert sr == SR and len(clip) == int(SEG * SR)


def test_changing_n_clips_reruns_generate_and_what_reads_clips_only(workdir_copy):
    _set(workdir_copy, "generate", "n_clips", 5)
    counts = dry_run_counts(workdir_copy, "--configfile", "config/test.yaml")
    assert set(counts) == {"generate", *LOOK, "all"}, counts
    run = snakemake(workdir_copy, "--configfile", "config/test.yaml")
    assert set(run.rules) == {"generate", *LOOK, "all"}
    assert len(list((workdir_copy / "results" / "generated").glob("clip_*.wav"))) == 5


def test_changing_longform_reruns_longform_its_copy_check_and_the_report_only(workdir_copy):
    path = workdir_copy / "config" / "test.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["generate"]["longform"]["seconds"] = 3.0
    path.write_text(yaml.safe_dump(cfg))
    counts = dry_run_counts(workdir_copy, "--configfile", "config/test.yaml")
    assert set(counts) == {"longform", "nearest", "report", "all"}, counts  # nearest: the pieces' copy check
    run = snakemake(workdir_copy, "--configfile", "config/test.yaml")
    assert set(run.rules) == {"longform", "nearest", "report", "all"}
    wave, sr = sf.read(workdir_copy / "results" / "longform" / "piece_000.wav")
    assert len(wave) == 3 * sr


def test_long_pieces_and_compressed_copies(finished_workdir):
    res = finished_workdir / "results"
    lf = TINY_CONFIG["generate"]["longform"]
    pieces = pd.read_csv(res / "longform" / "manifest.csv")
    assert pieces["piece"].tolist() == [f"piece_{i:03d}.wav" for i in range(lf["n"])]
    for name in pieces["piece"]:
        wave, sr = sf.read(res / "longform" / name, dtype="float32")
        assert sr == SR and len(wave) == int(lf["seconds"] * SR)
        assert audio.rms_dbfs(wave) > -40 and audio.peak_dbfs(wave) <= -0.9
        assert (res / "longform" / name).with_suffix(".mp3").stat().st_size > 1000
    for clip in (res / "generated").glob("clip_*.wav"):
        assert clip.with_suffix(".mp3").stat().st_size > 1000
    assert (res / "model" / "generator_ema.weights.h5").stat().st_size > 0
    assert list((res / "logs" / "tensorboard").glob("events.out.tfevents.*"))


def test_adding_a_source_processes_only_the_new_track(workdir_copy, music_server):
    wd = workdir_copy
    before = set(tracks(wd)["track"])
    with open(wd / "config" / "sources.tsv", "a") as fh:
        fh.write(f"extra\t{music_server.url('extra.wav')}\n")
    run = snakemake(wd, "--configfile", "config/test.yaml")
    new = set(tracks(wd)["track"]) - before
    assert len(new) == 1
    (new_track,) = new
    per_track = [(rule, wc.get("track")) for rule, wc in run.jobs if rule in {"download", "segment", "mel"}]
    assert sorted(per_track) == sorted([("download", new_track), ("segment", new_track), ("mel", new_track)])
    assert {"tracks", "pack", "train", "generate", *LOOK} <= set(run.rules)
    index = pd.read_csv(wd / "results" / "dataset" / "index.csv")
    assert new_track in set(index["track"])
