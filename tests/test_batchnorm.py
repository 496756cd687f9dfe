"""The generators' BatchNormalization is Keras's, computed by TensorFlow's fused kernel: the same outputs,
gradients, moving statistics and weight files."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from audiowgan.core.settings import ModelSpec
from audiowgan.nn import model as M
from audiowgan.nn import model_files
from audiowgan.nn.layers import BatchNormalization
from audiowgan.nn.standing_stats import standing_statistics

SHAPES = {"conv2d": (6, 4, 5, 3), "conv1d": (6, 7, 3)}


def pair(shape, dtype="float32", **kwargs):
    """Ours and Keras's layer, built alike, with the same non-trivial scale, offset and moving statistics."""
    ours, theirs = BatchNormalization(dtype=dtype, **kwargs), keras.layers.BatchNormalization(dtype=dtype, **kwargs)
    rng = np.random.default_rng(1)
    for layer in (ours, theirs):
        layer.build(shape)
    for a, b in zip(ours.weights, theirs.weights):
        value = rng.uniform(0.5, 1.5, a.shape).astype(np.float32)
        a.assign(value)
        b.assign(value)
    return ours, theirs


def batchnorm_groups(path) -> list[str]:
    """The BatchNorm layers' names in a Keras weight file: Keras names them by class, so ours must be Keras's."""
    with h5py.File(path, "r") as f:
        return sorted(name for name in f["layers"] if "batch_normalization" in name)


def batch(shape, dtype="float32"):
    x = np.random.default_rng(0).normal(2.0, 3.0, shape).astype(np.float32)
    return tf.cast(tf.constant(x), dtype)


def outputs_and_gradients(layer, x, training):
    weights = layer.trainable_weights
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.linspace(-1.0, 2.0, y.shape[-1]))
    return y, tape.gradient(loss, [x, *weights])


@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fused_batchnorm_is_keras_batchnorm_in_value_gradient_and_moving_statistics(kind, training, affine):
    shape = SHAPES[kind]
    ours, theirs = pair(shape, center=affine, scale=affine)
    x = batch(shape)
    (a, grads_a), (b, grads_b) = outputs_and_gradients(ours, x, training), outputs_and_gradients(theirs, x, training)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-4, atol=1e-5)
    for va, vb in zip(ours.non_trainable_weights, theirs.non_trainable_weights):  # moving mean and variance
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-6)
    if training:
        assert not np.allclose(ours.moving_variance.numpy(), pair(shape)[0].moving_variance.numpy())  # it moved


def test_under_bfloat16_it_reads_and_returns_bfloat16_with_keras_numbers():
    ours, theirs = pair(SHAPES["conv2d"], dtype="mixed_bfloat16")
    x = batch(SHAPES["conv2d"], "bfloat16")
    a, b = ours(x, training=True), theirs(x, training=True)
    assert a.dtype == b.dtype == tf.bfloat16
    np.testing.assert_allclose(a.numpy().astype(np.float32), b.numpy().astype(np.float32), rtol=0.02, atol=0.02)
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-4)


def test_a_frozen_layer_normalises_with_its_moving_statistics_and_keeps_them():
    ours, theirs = pair(SHAPES["conv2d"])
    ours.trainable = theirs.trainable = False
    x = batch(SHAPES["conv2d"])
    before = ours.moving_mean.numpy()
    np.testing.assert_allclose(ours(x, training=True).numpy(), theirs(x, training=True).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), before)


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
def test_generators_take_it_read_weight_files_of_keras_batchnorm_and_get_the_same_standing_statistics(tmp_path, kind):
    spec = ModelSpec.from_mapping(kind=kind, generator_channels=[8, 4], critic_channels=[4, 8], noise_dim=4)
    old, _ = M.build_networks(spec, (16, 12), writeup_layers=True)
    new, _ = M.build_networks(spec, (16, 12))
    assert {type(layer) for layer in new.layers if "bn" in layer.name} == {BatchNormalization}
    assert {type(layer) for layer in old.layers if "bn" in layer.name} == {keras.layers.BatchNormalization}
    old.save_weights(tmp_path / "generator.weights.h5")
    # as generate reads old files
    model_files.load_generator_weights(new, tmp_path / "generator.weights.h5", spec, (16, 12))
    new.save_weights(tmp_path / "new.weights.h5")
    groups = batchnorm_groups(tmp_path / "new.weights.h5")
    assert len(groups) == 2 and groups == batchnorm_groups(tmp_path / "generator.weights.h5")  # dense_bn, up0_bn
    for network in (old, new):
        standing_statistics(network, noise_dim=4, batch_size=5, seed=3, batches=4)
    z = tf.random.stateless_normal((3, 4), seed=(0, 1))
    np.testing.assert_allclose(new(z, training=False).numpy(), old(z, training=False).numpy(), rtol=1e-4, atol=1e-5)


def test_one_value_per_channel_has_variance_zero_as_in_keras():
    ours, theirs = pair((1, 1, 1, 3))
    x = batch((1, 1, 1, 3))
    np.testing.assert_allclose(ours(x, training=True).numpy(), theirs(x, training=True).numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-6)
