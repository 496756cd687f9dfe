"""Generation: clips rendered with parallel copies, the latent walk, the equal-power crossfade, pieces from a tiny
model, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiowgan.core.settings import AudioSpec, LongformSpec, MelSpec
from audiowgan.dsp import audio
from audiowgan.render import generate as G
from audiowgan.render import longform as L

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def short_time_db(wave: np.ndarray, frame: int) -> np.ndarray:
    n = len(wave) // frame
    frames = wave[: n * frame].reshape(n, frame).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


def small_inverter() -> G.Inverter:
    """0.25 s clips at 8 kHz, n_fft 256, hop 64: 32 frames of 32 mels, 2 Griffin-Lim iterations."""
    spec = AudioSpec.from_mapping(sample_rate=8000, segment_seconds=0.25)
    mel = MelSpec.from_mapping(n_fft=256, hop_length=64, n_mels=32, top_db=80.0)
    return G.Inverter(spec, mel, griffin_lim_iters=2)


def mel_batches(folder, mels: np.ndarray, size: int = 3):
    """(paths, seeds, mels) in batches, as generate() feeds render_clips."""
    folder.mkdir(exist_ok=True)
    for start in range(0, len(mels), size):
        chunk = mels[start : start + size]
        yield (
            [folder / f"clip_{start + k:03d}.wav" for k in range(len(chunk))],
            list(range(start, start + len(chunk))),
            chunk,
        )


def test_parallel_copies_are_the_files_of_a_serial_export(tmp_path):
    inv = small_inverter()
    mels = np.random.default_rng(0).uniform(-1.0, 0.5, (5, 32, 32)).astype(np.float32)  # as a generator's output
    pool, serial = tmp_path / "pool", tmp_path / "serial"
    rows = G.render_clips(mel_batches(pool, mels), inv, sample_rate=8000, target_dbfs=-20.0, formats=["mp3", "ogg"],
                          threads=3)  # fmt: skip
    assert [(r["clip"], r["seed"]) for r in rows] == [(f"clip_{i:03d}.wav", i) for i in range(5)]
    for paths, _, batch in mel_batches(serial, mels):  # each copy encoded before the next clip
        for path, wave in zip(paths, inv(batch)):
            G.write_audio(path, audio.normalise_loudness(wave, target_dbfs=-20.0), 8000, ["mp3", "ogg"])
    for i, row in enumerate(rows):
        name = f"clip_{i:03d}"
        for ext in ("wav", "mp3"):
            ours = (pool / f"{name}.{ext}").read_bytes()
            assert len(ours) > 1000 and ours == (serial / f"{name}.{ext}").read_bytes(), (name, ext)
        # Ogg pages carry a random stream serial number: the same audio, not the same bytes.
        ogg = sf.read(pool / f"{name}.ogg")[0]
        assert len(ogg) == 2000 and np.array_equal(ogg, sf.read(serial / f"{name}.ogg")[0])
        assert row["rms_dbfs"] <= -19.9 and row["peak_dbfs"] <= -1.0


def test_a_failed_copy_fails_the_job(tmp_path):
    mels = np.zeros((2, 32, 32), np.float32)
    with pytest.raises(ValueError, match="format='flac' must be one of mp3, ogg"):
        G.render_clips(mel_batches(tmp_path, mels), small_inverter(), sample_rate=8000, target_dbfs=-20.0,
                       formats=["flac"], threads=2)  # fmt: skip
    assert (tmp_path / "clip_001.wav").exists()


def test_slerp_keeps_the_norm_path_and_ends():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    assert np.allclose(L.slerp(a, b, 0.0), a, atol=1e-6) and np.allclose(L.slerp(a, b, 1.0), b, atol=1e-5)
    mid = L.slerp(a, b, 0.5)
    assert np.linalg.norm(mid) == pytest.approx((np.linalg.norm(a) + np.linalg.norm(b)) / 2, rel=1e-5)
    assert np.linalg.norm(mid) > np.linalg.norm((a + b) / 2)  # the straight line dips inside the shell
    assert np.allclose(L.slerp(a, a, 0.3), a, atol=1e-6)


def test_latent_walk_is_continuous_deterministic_and_passes_through_its_points():
    z = L.latent_walk(seed=5, noise_dim=32, steps=40, steps_per_anchor=10)
    assert z.shape == (40, 32) and z.dtype == np.float32
    assert np.array_equal(z, L.latent_walk(seed=5, noise_dim=32, steps=40, steps_per_anchor=10))
    assert not np.allclose(z, L.latent_walk(seed=6, noise_dim=32, steps=40, steps_per_anchor=10))
    anchor = np.random.default_rng([5, 1]).standard_normal(32)
    assert np.allclose(z[10], anchor, atol=1e-5)  # reaches point 1 at step 10
    steps = np.linalg.norm(np.diff(z, axis=0), axis=1)
    jumps = np.linalg.norm(np.diff(np.stack([np.random.default_rng([5, j]).standard_normal(32) for j in range(5)]),
                                   axis=0), axis=1)  # fmt: skip
    assert steps.max() < 0.25 * jumps.min()  # small steps: a walk, not a jump from point to point


def test_temperature_scales_each_latent_and_keeps_its_direction():
    standard = np.random.default_rng(3).standard_normal(16).astype(np.float32)  # how every earlier render drew it
    assert np.array_equal(G.latent(3, 16), standard) and np.array_equal(G.latent(3, 16, 1.0), standard)
    assert np.allclose(G.latent(3, 16, 1.5), 1.5 * G.latent(3, 16), rtol=1e-6)
    walk = L.latent_walk(seed=5, noise_dim=32, steps=40, steps_per_anchor=10)
    assert np.allclose(L.latent_walk(seed=5, noise_dim=32, steps=40, steps_per_anchor=10, temperature=0.8), 0.8 * walk,
                       rtol=1e-5, atol=1e-6)  # fmt: skip


def test_equal_power_crossfade_keeps_the_energy_of_uncorrelated_segments():
    size, overlap = 16000, 4000  # 1 s segments at 16 kHz, 0.25 s crossfades
    rng = np.random.default_rng(0)
    segments = [rng.standard_normal(size) * 0.1 for _ in range(6)]
    out = L.overlap_add(iter(segments), overlap=overlap)
    hop = size - overlap
    assert len(out) == size + 5 * hop
    frame = 800  # 50 ms
    db = short_time_db(out, frame)
    joins = [(k * hop + overlap // 2) // frame for k in range(1, 6)]  # the middle of each crossfade
    # Stated bound: at the joins the short-time energy stays within 1 dB of the piece's median level.
    assert np.abs(db[joins] - np.median(db)).max() < 1.0
    assert np.abs(db - np.median(db)).max() < 1.5  # and nowhere else a dip or a bump (start and end included)
    # For contrast: a linear crossfade dips by about 3 dB mid-join.
    t = (np.arange(overlap) + 0.5) / overlap
    lin = np.zeros(len(out))
    for k, seg in enumerate(segments):
        s = seg.copy()
        if k:
            s[:overlap] *= t
        if k < 5:
            s[-overlap:] *= 1 - t
        lin[k * hop : k * hop + size] += s
    assert np.median(db) - short_time_db(lin, frame)[joins].mean() > 2.0


def test_overlap_add_checks_and_cuts():
    with pytest.raises(ValueError, match="overlap=600 must be in"):
        L.overlap_add([np.zeros(1000)], overlap=600)
    with pytest.raises(ValueError, match="no segments"):
        L.overlap_add([], overlap=10)
    out = L.overlap_add([np.ones(100), np.ones(100)], overlap=20, length=150)
    assert len(out) == 150 and out[0] == 1.0 and out[-1] == 1.0


def test_plan_covers_the_requested_length():
    audio = AudioSpec.from_mapping(sample_rate=16000, segment_seconds=2.0)
    plan = L.longform_plan(LongformSpec.from_mapping(seconds=60, overlap_seconds=0.5, anchor_seconds=10), audio)
    assert plan["hop"] == 24000 and plan["overlap"] == 8000 and plan["length"] == 960000
    assert 32000 + (plan["segments"] - 1) * plan["hop"] >= plan["length"] > 32000 + (plan["segments"] - 2) * plan["hop"]
    assert plan["steps_per_anchor"] == 7
    with pytest.raises(ValueError, match="at most half a segment"):
        L.longform_plan(LongformSpec.from_mapping(overlap_seconds=1.5), audio)
    with pytest.raises(ValueError, match=r"at least one STFT window \(mel.n_fft=2048"):
        L.longform_plan(LongformSpec.from_mapping(overlap_seconds=0.1), audio, n_fft=2048)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny trained model whose model.json carries real audio and mel settings."""
    from test_training import MODEL, TRAIN, make_dataset

    from audiowgan.nn import train as T

    root = tmp_path_factory.mktemp("tiny-model")
    ds = make_dataset(root / "ds", shape=(16, 12))
    meta = json.loads((ds / "meta.json").read_text())
    # 12 frames at hop 64 = 704 samples at 8 kHz
    meta.update(sample_rate=8000, segment_seconds=0.088, n_fft=256, hop_length=64, top_db=80.0, fmin=0.0, fmax=None)
    (ds / "meta.json").write_text(json.dumps(meta))
    T.train(dataset_dir=ds, model_dir=root / "model", checkpoint_dir=root / "ck", model_params=MODEL,
            train_params={**TRAIN, "epochs": 1})  # fmt: skip
    return root / "model"


def test_long_pieces_from_a_model_are_deterministic_smooth_and_bounded(tiny_model, tmp_path):
    spec = LongformSpec.from_mapping(n=2, seconds=1.5, overlap_seconds=0.04, anchor_seconds=0.3, seed=3)
    pieces = [tmp_path / "piece_000.wav", tmp_path / "piece_001.wav"]
    table = L.longform(model_dir=tiny_model, dataset_meta=None, pieces=pieces, manifest=tmp_path / "m.csv",
                       spec=spec, griffin_lim_iters=4, target_dbfs=-20.0, formats=["mp3"])  # fmt: skip
    a, sr = sf.read(pieces[0], dtype="float32")
    assert sr == 8000 and len(a) == 12000 and table["segments"].tolist() == [31, 31]
    assert (tmp_path / "piece_000.mp3").stat().st_size > 1000
    assert list(pd.read_csv(tmp_path / "m.csv")["piece"]) == ["piece_000.wav", "piece_001.wav"]
    assert np.abs(a).max() <= 10 ** (-1 / 20) + 1e-4  # peaks below -1 dBFS
    again = tmp_path / "again"
    again.mkdir()
    L.longform(model_dir=tiny_model, dataset_meta=None, pieces=[again / "p.wav"], manifest=again / "m.csv", spec=spec,
               griffin_lim_iters=4, target_dbfs=-20.0)  # fmt: skip
    assert np.array_equal(sf.read(again / "p.wav", dtype="float32")[0], a)  # the same seed, the same piece
    # No jump in short-time energy at the joins beyond the stated bound: between neighbouring 10-ms frames,
    # the typical jump at a join is no larger than the typical jump inside a segment (+1 dB), and none exceeds 9 dB.
    r = G.Renderer(tiny_model, griffin_lim_iters=4)
    plan = L.longform_plan(spec, r.audio_spec, n_fft=r.mel_spec.n_fft)
    db = short_time_db(a, 80)
    joins = [
        (k * plan["hop"] + plan["overlap"] // 2) // 80 for k in range(1, plan["segments"]) if k * plan["hop"] < 11900
    ]
    jumps = np.abs(np.diff(db))
    at_joins = jumps[np.array(joins) - 1]
    inside = np.delete(jumps, np.array(joins) - 1)
    assert np.median(at_joins) <= np.median(inside) + 1.0 and at_joins.max() < 9.0, (at_joins, np.median(inside))


def test_clips_do_not_depend_on_the_jobs_threads(tiny_model, tmp_path):
    kw = dict(model_dir=tiny_model, dataset_meta=None, seed=7, griffin_lim_iters=4, target_dbfs=-20.0, formats=["mp3"],
              batch_size=4)  # fmt: skip
    for threads in (1, 3):
        out = tmp_path / str(threads)
        out.mkdir()
        clips = [out / f"clip_{i:03d}.wav" for i in range(6)]
        G.generate(clips=clips, manifest=out / "manifest.csv", mels_out=out / "mels.npy", threads=threads, **kw)
    for name in ["manifest.csv", "mels.npy", *(f"clip_{i:03d}.{ext}" for i in range(6) for ext in ("wav", "mp3"))]:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "3" / name).read_bytes(), name


def test_temperature_changes_the_clips_and_is_in_the_manifest_and_its_hash(tiny_model, tmp_path):
    kw = dict(model_dir=tiny_model, dataset_meta=None, seed=7, griffin_lim_iters=4, target_dbfs=-20.0)
    tables, mels = {}, {}
    for t in (1.0, 1.5):
        out = tmp_path / str(t)
        out.mkdir()
        tables[t] = G.generate(clips=[out / "clip_000.wav", out / "clip_001.wav"], manifest=out / "manifest.csv",
                               mels_out=out / "mels.npy", temperature=t, **kw)  # fmt: skip
        mels[t] = np.load(out / "mels.npy")
    assert pd.read_csv(tmp_path / "1.5" / "manifest.csv")["temperature"].tolist() == [1.5, 1.5]
    r = G.Renderer(tiny_model, griffin_lim_iters=4)
    scaled = r.mels(np.stack([1.5 * G.latent(s, r.noise_dim) for s in (7, 8)]))
    np.testing.assert_allclose(mels[1.5], scaled, atol=1e-5)  # scaled once: the generator's output for 1.5 z
    assert not np.allclose(mels[1.0], mels[1.5])
    # At 1 the hash is the one earlier versions wrote (no temperature in it); another temperature changes it.
    assert tables[1.0]["config_sha256"][0] == G.provenance(r, target_dbfs=-20.0)["config_sha256"]
    assert tables[1.0]["config_sha256"][0] != tables[1.5]["config_sha256"][0]


def test_temperature_reaches_the_long_pieces_and_their_manifest(tiny_model, tmp_path):
    spec = LongformSpec.from_mapping(n=1, seconds=0.75, overlap_seconds=0.04, anchor_seconds=0.3, seed=3)
    waves = {}
    for t in (1.0, 1.5):
        out = tmp_path / str(t)
        out.mkdir()
        table = L.longform(model_dir=tiny_model, dataset_meta=None, pieces=[out / "piece_000.wav"],
                           manifest=out / "m.csv", spec=spec, griffin_lim_iters=4, target_dbfs=-20.0,
                           temperature=t)  # fmt: skip
        assert table["temperature"].tolist() == [t]
        waves[t] = sf.read(out / "piece_000.wav", dtype="float32")[0]
    assert waves[1.0].shape == waves[1.5].shape and not np.allclose(waves[1.0], waves[1.5], atol=1e-3)


def test_the_command_line_renders_clips_and_pieces(tiny_model, tmp_path):
    env = {"PYTHONPATH": str(REPO / "workflow" / "scripts"), "PATH": __import__("os").environ["PATH"]}
    cmd = [sys.executable, "-m", "audiowgan.render", "--model", str(tiny_model), "--griffin-lim-iters", "4"]
    subprocess.run([*cmd, "--n", "3", "--seed", "100", "--out", str(tmp_path / "clips"), "--formats", ""], check=True,
                   env=env, capture_output=True)  # fmt: skip
    manifest = pd.read_csv(tmp_path / "clips" / "manifest.csv")
    assert manifest["seed"].tolist() == [100, 101, 102] and manifest["clip"].tolist()[0] == "clip_000.wav"
    assert not list((tmp_path / "clips").glob("*.mp3"))
    # The same clip as the library call with the same seed: the CLI is the rules' code. Equal
    # to a few 16-bit steps, not bit for bit: this process may run TensorFlow's CPU kernels
    # with another thread count (set by earlier tests), which reorders float sums.
    G.generate(model_dir=tiny_model, dataset_meta=None, clips=[tmp_path / "lib.wav"], manifest=tmp_path / "lib.csv",
               seed=100, griffin_lim_iters=4, target_dbfs=-20.0)  # fmt: skip
    lib, cli = sf.read(tmp_path / "lib.wav")[0], sf.read(tmp_path / "clips" / "clip_000.wav")[0]
    np.testing.assert_allclose(lib, cli, rtol=0, atol=1e-3)
    subprocess.run([*cmd, "--seconds", "0.5", "--n", "1", "--overlap", "0.04", "--anchor-seconds", "0.2", "--out",
                    str(tmp_path / "long")], check=True, env=env, capture_output=True)  # fmt: skip
    wave, sr = sf.read(tmp_path / "long" / "piece_000.wav")
    assert len(wave) == 4000 and (tmp_path / "long" / "piece_000.mp3").exists()
    bad = subprocess.run([*cmd, "--griffin-lim-iters", "0", "--out", str(tmp_path / "x")], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "generate.griffin_lim_iters" in bad.stderr
