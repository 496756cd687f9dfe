"""The BatchNorm statistics of a generator measured on its own weights ("standing statistics").

A generator's BatchNorm layers normalise with the statistics of each batch while it trains and with their
moving averages when it renders. The moving average of the generator's *weights* (``train.ema_decay``,
:class:`~audiowgan.nn.callbacks.GeneratorEMA`) has no statistics of its own: it carries those of the raw
generator, whose activations differ from the averaged network's. BigGAN (Brock et al. 2019, "standing
statistics") measures them instead, and so does :func:`standing_statistics`: it runs the network in training
mode on seeded noise and sets each BatchNorm layer's moving mean and variance to the average of its batch
statistics. Measured on both quality corpora: docs/training.md.
"""

from __future__ import annotations

import keras
import tensorflow as tf

STANDING_BATCHES = 32  # batches averaged; at batch 16, 512 noise vectors (each statistic also averages over H x W)


def batchnorm_layers(network: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The network's BatchNorm layers, in order."""
    return [layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]


def standing_statistics(
    generator: keras.Model, *, noise_dim: int, batch_size: int, seed: int, batches: int = STANDING_BATCHES
) -> int:
    """Set the moving mean and variance of ``generator``'s BatchNorm layers to the averages of their batch
    statistics over ``batches`` batches of ``batch_size`` noise vectors drawn with ``seed``; return how many
    layers were set (0 for a generator without BatchNorm, which is left alone).

    Only the moving statistics change: training mode normalises with batch statistics, so a layer's input does
    not depend on the moving statistics of the layers before it. Keras updates them as
    ``moving = momentum * moving + (1 - momentum) * batch``, so a momentum of ``i / (i + 1)`` at the i-th
    batch (0 at the first) leaves their running mean; the calls are eager, so each reads the momentum it was
    given. Keras updates only trainable layers, so each layer is trainable for the duration; its momentum
    and trainability are restored afterwards, also after an error. The same seed gives the same statistics.
    """
    bns = batchnorm_layers(generator)
    saved = [(layer.momentum, layer.trainable) for layer in bns]
    try:
        for layer in bns:
            layer.trainable = True
        for i in range(int(batches)):
            for layer in bns:
                layer.momentum = i / (i + 1)
            z = tf.random.stateless_normal((int(batch_size), int(noise_dim)), seed=(int(seed), i))
            generator(z, training=True)
    finally:
        for layer, (momentum, trainable) in zip(bns, saved):
            layer.momentum, layer.trainable = momentum, trainable
    return len(bns)
