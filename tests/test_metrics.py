"""Frechet distance on mel-frame statistics, and the Griffin-Lim round-trip error."""

from __future__ import annotations

import numpy as np
import pytest

from audiowgan.look import distances as metrics
from audiowgan.look import evaluate as evaluation


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((8, 8)) / 3
    return rng.standard_normal((2000, 8)) @ mix + 0.5  # correlated, non-zero mean


def test_mel_frame_stats_shape():
    mels = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (N, n_mels, frames)
    rows = metrics.mel_frame_stats(mels)
    assert rows.shape == (8, 3)
    np.testing.assert_array_equal(rows[5], mels[1, :, 1])  # item 1, frame 1
    assert metrics.mel_frame_stats(mels[0]).shape == (4, 3)
    with pytest.raises(ValueError, match="mels.shape"):
        metrics.mel_frame_stats(np.zeros(5))


def test_clip_spread_tells_steady_distinct_clips_from_drifting_alike_ones_with_the_same_frames():
    rng = np.random.default_rng(1)
    textures = rng.uniform(-1, 1, (4, 6))  # four spectra of six bands
    steady = np.repeat(textures[:, :, None], 8, axis=2)  # clip i holds texture i for all 8 frames
    drifting = np.stack([np.roll(steady[:, :, 0], -i, axis=0).T.repeat(2, axis=1) for i in range(4)])
    assert sorted(map(tuple, metrics.mel_frame_stats(steady))) == sorted(map(tuple, metrics.mel_frame_stats(drifting)))
    a, b = metrics.clip_spread(steady), metrics.clip_spread(drifting)
    assert a["within"] == 0 and a["between"] > 0.3 and b["within"] > 0.3 and b["between"] == pytest.approx(0)
    assert a["between"] == pytest.approx(textures.std(axis=0).mean())
    with pytest.raises(ValueError, match="must be"):
        metrics.clip_spread(steady[:1])


def test_identical_sets_give_zero(frames):
    assert metrics.frechet_distance(frames, frames) == pytest.approx(0.0, abs=1e-6)


def test_symmetric_and_positive_for_shifted_sets(frames):
    shifted = frames + 0.3
    ab, ba = metrics.frechet_distance(frames, shifted), metrics.frechet_distance(shifted, frames)
    assert ab == pytest.approx(ba, rel=1e-6)
    # A pure shift leaves the covariance: the distance is the squared mean difference.
    assert ab == pytest.approx(8 * 0.3**2, rel=1e-6)
    scaled = (frames - frames.mean(0)) * 1.5 + frames.mean(0)
    assert metrics.frechet_distance(frames, scaled) > 0.01


def test_closed_form_1d():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2
    d = metrics.gaussian_frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[0.25]]))
    assert d == pytest.approx(3.0**2 + (2.0 - 0.5) ** 2)
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 2.0, 200_000), rng.normal(-2.0, 0.5, 200_000)  # 1-D samples are accepted
    assert metrics.frechet_distance(a, b) == pytest.approx(9.0 + 1.5**2, rel=0.01)


def test_closed_form_diagonal():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    sd_a, sd_b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((sd_a - sd_b) ** 2)
    got = metrics.gaussian_frechet_distance(mu_a, np.diag(sd_a**2), mu_b, np.diag(sd_b**2))
    assert got == pytest.approx(expected)


def test_singular_covariances_are_safe():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 1)) @ np.ones((1, 4))  # rank-1 covariance in 4-D
    d = metrics.frechet_distance(x, x + 1.0)
    assert np.isfinite(d) and d == pytest.approx(4.0, rel=1e-3)


def test_frechet_distance_errors(frames):
    with pytest.raises(ValueError, match="features"):
        metrics.frechet_distance(frames, frames[:, :3])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(frames[:1], frames)
    with pytest.raises(ValueError, match="finite"):
        metrics.frechet_distance(np.full((3, 8), np.nan), frames)


def test_griffin_lim_round_trip_error():
    sr = 16000
    t = np.arange(sr // 2) / sr
    rng = np.random.default_rng(0)
    segs = np.stack([  # two decaying triads with a little noise
        sum(0.2 * np.sin(2 * np.pi * f * t) for f in root * np.array([1, 1.26, 1.5])) * np.exp(-2 * t)
        + 0.01 * rng.standard_normal(len(t))
        for root in (220.0, 261.6)
    ]).astype(np.float32)  # fmt: skip
    args = dict(sample_rate=sr, n_fft=512, hop_length=128, n_mels=64, top_db=80.0, n_iter=16)
    fast = metrics.griffin_lim_round_trip_error(segs, **args)
    assert fast.shape == (2,)
    assert np.all((fast > 0) & (fast < 0.3))  # measured 0.21-0.23 at 16 iterations (librosa 0.30)
    lib = metrics.griffin_lim_round_trip_error(segs, **args, method="librosa")
    assert fast.mean() <= lib.mean()
    with pytest.raises(ValueError, match="silent"):
        metrics.griffin_lim_round_trip_error(np.zeros((1, 8000)), **args)
    with pytest.raises(ValueError, match="hop_length=0"):
        metrics.griffin_lim_round_trip_error(segs, **(args | {"hop_length": 0}))


def test_the_compared_real_set_is_drawn_across_the_held_out_tracks_not_taken_from_the_first():
    rows = np.arange(100)  # held-out rows in track order: rows 0-49 one track, 50-99 another
    drawn = evaluation.compared_rows(rows, 20, seed=0)
    assert len(drawn) == 20 and len(set(drawn)) == 20 and list(drawn) == sorted(drawn)
    assert (drawn < 50).any() and (drawn >= 50).any()  # both tracks, where rows[:20] holds one
    assert np.array_equal(drawn, evaluation.compared_rows(rows, 20, seed=0))
    assert np.array_equal(evaluation.compared_rows(rows[:5], 20, seed=0), rows[:5])  # n above the size: all of them


class OneRowPerClip:
    """The embedder interface with musicnn's shape on short clips: one embedding row per clip."""

    @staticmethod
    def clip_embeddings(waves, *, sample_rate):
        return np.asarray(waves, np.float64)[:, :8]

    @staticmethod
    def describe():
        return {"name": "one row per clip"}


def test_an_embedding_with_fewer_than_two_rows_gives_null_distances_and_a_reason_not_an_error():
    waves = np.random.default_rng(0).normal(size=(3, 64))
    out = evaluation._embedding_distances(OneRowPerClip, waves[:1], {"generated": waves}, sample_rate=16000, seed=0)
    assert out["frechet"] == {"generated": None} and out["kernel"] == {"generated": None}
    assert "at least 2" in out["reason"]
    ok = evaluation._embedding_distances(OneRowPerClip, waves, {"generated": waves}, sample_rate=16000, seed=0)
    assert ok["frechet"]["generated"] is not None and "reason" not in ok
