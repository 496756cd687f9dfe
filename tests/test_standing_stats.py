"""Standing statistics: a generator's BatchNorm statistics measured on its own weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from audiowgan.nn import model as M
from audiowgan.nn.standing_stats import batchnorm_layers, standing_statistics

NOISE, BATCH = 4, 5


@pytest.fixture
def generator():
    keras.utils.set_random_seed(1)
    g = M.build_generator(noise_dim=NOISE, channels=[8, 4], output_shape=(16, 12), kernel_size=3)
    for layer in batchnorm_layers(g):  # stale statistics, as a moving average of weights carries
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 5.0, np.float32))
        layer.moving_variance.assign(np.full(layer.moving_variance.shape, 9.0, np.float32))
    return g


def noise(seed: int, i: int) -> tf.Tensor:
    return tf.random.stateless_normal((BATCH, NOISE), seed=(seed, i))


def test_one_batch_makes_inference_equal_training_on_that_batch(generator):
    assert standing_statistics(generator, noise_dim=NOISE, batch_size=BATCH, seed=7, batches=1) == 2
    z = noise(7, 0)
    np.testing.assert_allclose(generator(z, training=False), generator(z, training=True), atol=1e-5)


def test_statistics_are_the_average_over_batches_and_momentum_is_restored(generator):
    first = batchnorm_layers(generator)[0]  # dense_bn: its input does not depend on any BatchNorm
    before = first.momentum
    standing_statistics(generator, noise_dim=NOISE, batch_size=BATCH, seed=7, batches=3)
    inputs = keras.Model(generator.input, generator.get_layer("dense_bn").input)
    acts = [inputs(noise(7, i)).numpy() for i in range(3)]
    means, variances = (
        np.mean([a.mean(axis=(0, 1, 2)) for a in acts], 0),
        np.mean([a.var(axis=(0, 1, 2)) for a in acts], 0),
    )
    np.testing.assert_allclose(first.moving_mean, means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first.moving_variance, variances, rtol=1e-4)
    assert first.momentum == before


def test_same_seed_same_statistics_and_only_statistics_change(generator):
    trainable = [w.numpy() for w in generator.trainable_weights]
    standing_statistics(generator, noise_dim=NOISE, batch_size=BATCH, seed=2)
    once = [w.numpy() for w in generator.non_trainable_weights]
    standing_statistics(generator, noise_dim=NOISE, batch_size=BATCH, seed=2)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(once, generator.non_trainable_weights))
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(trainable, generator.trainable_weights))
    assert all(not np.allclose(layer.moving_variance, 9.0) for layer in batchnorm_layers(generator))


def test_a_frozen_generator_is_measured_and_everything_is_restored_after_an_error(generator):
    for layer in batchnorm_layers(generator):
        layer.trainable = False  # Keras would not update a frozen layer's statistics
    standing_statistics(generator, noise_dim=NOISE, batch_size=BATCH, seed=7, batches=1)
    assert not any(np.allclose(layer.moving_variance, 9.0) for layer in batchnorm_layers(generator))
    for layer in batchnorm_layers(generator):
        layer.trainable = True  # training mode normalises with batch statistics again: compare with them
    z = noise(7, 0)
    np.testing.assert_allclose(generator(z, training=False), generator(z, training=True), atol=1e-5)
    for layer in batchnorm_layers(generator):
        layer.trainable = False
    with pytest.raises(ValueError):
        standing_statistics(generator, noise_dim=NOISE + 1, batch_size=BATCH, seed=7)  # the wrong noise size
    assert all(layer.momentum == 0.99 and not layer.trainable for layer in batchnorm_layers(generator))


def test_a_network_without_batchnorm_is_left_alone():
    z = keras.Input((NOISE,))
    net = keras.Model(z, keras.layers.Dense(3)(z))
    before = [w.numpy() for w in net.weights]
    assert standing_statistics(net, noise_dim=NOISE, batch_size=BATCH, seed=0) == 0
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, net.weights))
