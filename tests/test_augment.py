"""DiffAugment for the critic: the identity when off; shapes, range and gradients when on; exact transforms."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from audiowgan.nn import augment as A

SEED = tf.constant([3, 4], dtype=tf.int64)


def batch(b=8, n_mels=16, frames=24):
    return tf.constant(np.tanh(np.random.default_rng(0).standard_normal((b, n_mels, frames, 1))).astype(np.float32))


def test_off_is_the_identity():
    x = batch()
    assert A.augment(x, 0.0, SEED) is x


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_on_keeps_shape_and_range_and_changes_examples(p):
    x = batch()
    y = A.augment(x, p, SEED).numpy()
    assert y.shape == x.shape and y.dtype == np.float32
    assert y.min() >= -1.0 and y.max() <= 1.0
    changed = np.any(y != x.numpy(), axis=(1, 2, 3))
    assert changed.sum() >= 1
    if p == 1.0:
        assert changed.all()


def test_same_seed_same_result_other_seed_other_result():
    x = batch()
    a, b = A.augment(x, 0.5, SEED).numpy(), A.augment(x, 0.5, SEED).numpy()
    c = A.augment(x, 0.5, tf.constant([5, 6], dtype=tf.int64)).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_gradients_reach_the_input():
    x = batch()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(A.augment(x, 1.0, SEED))
    g = tape.gradient(y, x).numpy()
    assert np.isfinite(g).all() and (g != 0).mean() > 0.3  # silenced cells get none, the rest pass through


def test_time_shift_moves_frames_and_fills_silence():
    x = tf.reshape(tf.range(2 * 1 * 5, dtype=tf.float32), (2, 1, 5, 1)) / 10.0
    y = A.time_shift(x, tf.constant([2, -1])).numpy()[:, 0, :, 0]
    np.testing.assert_allclose(y[0], [-1, -1, 0.0, 0.1, 0.2])
    np.testing.assert_allclose(y[1], [0.6, 0.7, 0.8, 0.9, -1])


def test_cutout_silences_exactly_one_span_per_axis():
    x = tf.zeros((1, 4, 6, 1))
    t = A.cutout(x, tf.constant([2]), 3, axis=2).numpy()[0, :, :, 0]
    assert (t[:, 2:5] == -1).all() and (t[:, [0, 1, 5]] == 0).all()
    f = A.cutout(x, tf.constant([1]), 2, axis=1).numpy()[0, :, :, 0]
    assert (f[1:3] == -1).all() and (f[[0, 3]] == 0).all()
