"""musicnn embeddings: the rebuild against the original code's outputs, windows, short clips, distances."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiowgan.ingest import demo
from audiowgan.look import distances
from audiowgan.nn import musicnn
from conftest import REPO

SR = 16000
FIXTURE = REPO / "tests" / "data" / "musicnn_reference.npz"


def _reference_script():
    spec = importlib.util.spec_from_file_location("musicnn_reference", REPO / "scripts" / "musicnn_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    """The original musicnn's outputs (scripts/musicnn_reference.py) and the input it was run on."""
    script = _reference_script()
    stored = np.load(FIXTURE)
    meta = json.loads(str(stored["meta"]))
    wave = script.reference_audio()
    assert script.digest(wave) == meta["sha256"], "reference_audio() no longer makes the fixture's input"
    return wave, meta, stored


@pytest.fixture(scope="module")
def music():
    """Twelve 2-s music-like pieces at 16 kHz and -20 dBFS RMS, the level generated clips have."""
    x = np.stack([demo.piece(seed=s, seconds=2.0, sample_rate=SR) for s in range(12)])
    return 0.1 * x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))


# --------------------------------------------------------------------------- the original


@pytest.mark.parametrize("model", musicnn.MODELS)
def test_rebuild_matches_the_original_musicnn(reference, model):
    wave, meta, stored = reference
    out = musicnn._outputs(wave, SR, meta["hop_seconds"], model, None)  # None: the level as given, as musicnn
    assert out["penultimate"].shape == stored[f"{model}/penultimate"][None].shape == (1, 3, 200)
    # Measured: 3e-6 (penultimate), 4e-7 (tags), 2.5e-5 on max_pool values up to 25 on one CPU, 7e-4 on
    # another (its kernels sum in another order); a wrong layer or weight is off by more than 0.1.
    np.testing.assert_allclose(out["penultimate"][0], stored[f"{model}/penultimate"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(out["tags"][0], stored[f"{model}/tags"], rtol=0, atol=1e-5)
    for pool in ("mean_pool", "max_pool"):
        mine = out[pool][0, :, :: meta["pool_stride"]]
        np.testing.assert_allclose(mine, stored[f"{model}/{pool}"], rtol=2e-4, atol=1e-3)
    # The windows differ from each other: a check that would catch one window repeated three times.
    assert np.abs(np.diff(stored[f"{model}/penultimate"], axis=0)).max() > 0.1


def test_log_mel_is_musicnns_arithmetic(reference):
    import librosa

    wave = reference[0]
    rep = librosa.feature.melspectrogram(y=wave, sr=SR, hop_length=256, n_fft=512, n_mels=96).T
    expected = np.log10(10000 * rep.astype(np.float16) + 1)  # musicnn's batch_data(), float16 throughout
    got = musicnn._log_mel(wave)
    assert got.dtype == np.float16 and got.shape == (1 + len(wave) // 256, 96)
    np.testing.assert_array_equal(got, expected)


def test_loud_input_is_held_below_the_float16_overflow():
    # A full-scale bass tone: musicnn's float16 10000 * x overflows to inf (and its network returns NaN).
    t = np.arange(3 * SR) / SR
    tone = 0.9 * np.sin(2 * np.pi * 80 * t)
    rep = musicnn._log_mel(tone.astype(np.float32))
    assert np.all(np.isfinite(rep)) and rep.max() == np.log10(np.float16(65504) + np.float16(1))
    assert np.all(np.isfinite(musicnn.embed(tone, sample_rate=SR, level_dbfs=None)))


def test_clips_are_brought_to_one_level(music):
    # musicnn does not normalise: 6 dB moves an embedding half as far as two demo pieces are apart.
    quiet = 10 ** (-12 / 20) * music[:3]
    ref = musicnn.embed(music[:3], sample_rate=SR)
    np.testing.assert_allclose(musicnn.embed(quiet, sample_rate=SR), ref, atol=1e-4)
    as_given = musicnn.embed(quiet, sample_rate=SR, level_dbfs=None)
    between = np.linalg.norm(ref[0, 0] - ref[1, 0])
    assert np.linalg.norm(as_given[0, 0] - ref[0, 0]) > 0.5 * between
    silence = musicnn.embed(np.zeros(2 * SR), sample_rate=SR)
    assert np.all(np.isfinite(silence))


# --------------------------------------------------------------------------- windows and shapes


def test_windows_shapes_and_determinism(music):
    five = np.concatenate([music[:3], music[3:6]], axis=1)[:, : int(4.7 * SR)]  # 4.7 s: 294 frames
    assert musicnn.n_windows(five.shape[1], sample_rate=SR) == 1 + (294 - 187) // 61 == 2
    assert musicnn.n_windows(5 * SR, sample_rate=SR) == 3  # 313 frames: windows at 0, 61, 122
    assert musicnn.n_windows(5 * SR, sample_rate=SR, hop_seconds=3.0) == 1
    first = musicnn.embed(five, sample_rate=SR)
    assert first.shape == (3, 2, 200) and first.dtype == np.float32
    np.testing.assert_array_equal(first, musicnn.embed(five, sample_rate=SR))  # bit for bit
    np.testing.assert_allclose(musicnn.embed(five[1], sample_rate=SR)[0], first[1], atol=1e-5)  # its company
    rows = musicnn.clip_embeddings(five, sample_rate=SR)
    assert rows.shape == (6, 200) and rows.dtype == np.float64
    np.testing.assert_array_equal(rows[3], first[1, 1])  # clip after clip
    pools = musicnn.embed(five[:1], sample_rate=SR, layer="max_pool")
    assert pools.shape == (1, 2, 753)


def test_short_clips_are_played_on_repeat(music):
    two = music[:2]
    assert musicnn.n_windows(two.shape[1], sample_rate=SR) == 1
    looped = np.tile(two, 2)[:, : 3 * SR]  # (at the level given: the loop's RMS is not the clip's)
    kw = dict(sample_rate=SR, level_dbfs=None)
    np.testing.assert_array_equal(musicnn.embed(two, **kw), musicnn.embed(looped, **kw))
    one = musicnn.embed(music[0, :SR], sample_rate=SR)  # 1 s: three times round
    assert one.shape == (1, 1, 200) and np.all(np.isfinite(one))


def test_other_sample_rates_are_resampled():
    x = demo.piece(seed=3, seconds=2.0, sample_rate=22050)
    e = musicnn.embed(np.stack([x, x]), sample_rate=22050)
    assert e.shape == (2, 1, 200)
    assert musicnn.tags(x, sample_rate=22050).shape == (1, 1, 50)


def test_tags_and_labels(music):
    probs = musicnn.tags(music[:2], sample_rate=SR, model="MTT_musicnn")
    assert probs.shape == (2, 1, 50) and np.all((probs >= 0) & (probs <= 1))
    assert musicnn.labels()[:3] == ["rock", "pop", "alternative"]
    assert len(musicnn.labels("MTT_musicnn")) == 50 and "guitar" in musicnn.labels("MTT_musicnn")


# --------------------------------------------------------------------------- distances


def test_noise_is_far_from_music():
    # Two sets of 2-s segments cut alternately from the same 8 pieces (one distribution) against
    # white noise at the same level: kernel distance over windows.
    pieces = np.stack([demo.piece(seed=s, seconds=8.0, sample_rate=SR).reshape(4, 2 * SR) for s in range(8)])
    pieces = 0.1 * pieces / np.sqrt(np.mean(pieces**2, axis=-1, keepdims=True))
    a = musicnn.clip_embeddings(pieces[:, 0::2].reshape(-1, 2 * SR), sample_rate=SR)
    b = musicnn.clip_embeddings(pieces[:, 1::2].reshape(-1, 2 * SR), sample_rate=SR)
    noise = musicnn.clip_embeddings(0.1 * np.random.default_rng(0).standard_normal((16, 2 * SR)), sample_rate=SR)
    assert len(a) == len(b) == len(noise) == 16
    kd_music, kd_noise = (distances.kernel_distance(a, x, subsets=None) for x in (b, noise))
    assert kd_music < 0.05 * kd_noise


# --------------------------------------------------------------------------- contract


def test_import_and_describe_do_not_load_tensorflow():
    code = (
        "import sys, audiowgan.nn.musicnn as m; d = m.describe(); m.labels(); "
        "sys.exit(int('tensorflow' in sys.modules or 'keras' in sys.modules or d['dimension'] != 200))"
    )
    env = os.environ | {"PYTHONPATH": str(Path(musicnn.__file__).parents[2])}
    assert subprocess.run([sys.executable, "-c", code], check=False, env=env).returncode == 0


def test_describe():
    d = musicnn.describe(hop_seconds=0.5)
    assert d["name"] == "musicnn-msd-penultimate" and d["model"] == "MSD_musicnn"
    assert d["dimension"] == 200 and d["sample_rate"] == 16000 and d["window_frames"] == 187
    assert d["hop_frames"] == 30 and d["hop_seconds"] == pytest.approx(0.48) and d["level_dbfs"] == -20.0
    assert d["versions"]["musicnn"] == "0.1.0" and d["versions"]["keras"]
    assert musicnn.describe(model="MTT_musicnn", layer="mean_pool")["dimension"] == 753
    assert musicnn.EMBEDDING["layer"] == "penultimate"
    json.dumps(d)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sample_rate=0), "sample_rate=0"),
        (dict(sample_rate=16000.0), "sample_rate=16000.0"),
        (dict(hop_seconds=0), "hop_seconds=0"),
        (dict(hop_seconds=0.02), "hop_seconds=0.02"),
        (dict(hop_seconds=float("nan")), "hop_seconds=nan"),
        (dict(hop_seconds=True), "hop_seconds=True"),
        (dict(model="MSD_vgg"), "model='MSD_vgg'"),
        (dict(layer="cnn1"), "layer='cnn1'"),
        (dict(level_dbfs=3.0), "level_dbfs=3.0"),
        (dict(level_dbfs="-20"), "level_dbfs='-20'"),
        (dict(waves=np.zeros((2, 2, 2000))), r"waves.shape=\(2, 2, 2000\)"),
        (dict(waves=np.zeros((0, 2000))), r"waves.shape=\(0, 2000\)"),
        (dict(waves=np.zeros(500)), "500 samples"),
        (dict(waves=np.full(2000, np.inf)), "finite"),
        (dict(waves=np.zeros(2000, dtype=bool)), "dtype=bool"),
    ],
)
def test_embed_rejects_bad_arguments(kwargs, match):
    args = dict(waves=np.zeros(2000, np.float32), sample_rate=SR) | kwargs
    with pytest.raises(ValueError, match=match):
        musicnn.embed(args.pop("waves"), **args)


def test_missing_wheel_says_what_to_install(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps musicnn==0.1.0"):
        musicnn.labels()
