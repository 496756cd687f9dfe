"""The networks' own Keras layers, beside Keras's: what :mod:`audiowgan.nn.model` builds its generators and
critics of: small functions of their input (only :class:`BandNorm` holds fixed, non-trainable weights), Keras's
BatchNormalization on one fused kernel, and the generators' upsampling convolutions folded into one
(:class:`ResizeConv2D`, :class:`ResizeConv1D`).

Keras names a layer in weight files by its class, so these keep their names; moving them here from
``model.py`` (2026-12-05, the folded convolutions 2026-12-07) changes no file written before.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers


class PeakNorm(layers.Layer):
    """Shift each example of (B, ...) so that its largest value is 1: ``x - max(x) + 1``.

    Every training mel is scaled relative to its own peak (``dsp.mel.scale``: 0 dB at the loudest bin, which is
    +1), so the data hold that constraint exactly, and a tanh output reaches 1 only by saturating: its peaks
    fall short (medians of 0.89-0.94 in the quality benchmark's runs), and the rendered clip, measured relative to
    its peak again, comes out with every other bin that much too loud against it. As the generator's last
    operation this shift makes every generated mel meet the constraint as the training mels do, and leaves
    the generator to learn the bins relative to the peak. It never goes below -1 (the shift is >= 0 for a
    tanh output) and is differentiable almost everywhere (the maximum passes its gradient to its bin).
    """

    def call(self, x):
        return x - keras.ops.max(x, axis=tuple(range(1, len(x.shape))), keepdims=True) + 1.0


class BandPosition(layers.Layer):
    """(B, rows, frames, C) -> (B, rows, frames, C + 1): one channel more, each row's position from -1 (the
    lowest band) to 1 (the highest), the same in every frame: row r of h holds 2 (r + 0.5) / h - 1.

    A convolution is the same at every row, so it cannot tell a bass line from a melody an octave up, nor
    its own output's lowest band from one in the middle but by the zero padding at the edge. Given this
    channel it can (CoordConv, Liu et al. 2018; the frequency-aware CNNs of Koutini et al. 2019, which add it
    to spectrogram classifiers). It has no weights: the convolution that reads it gets one input channel more.
    """

    def call(self, x):
        shape = tf.shape(x)
        h = tf.cast(shape[1], tf.float32)
        rows = 2.0 * (tf.range(h) + 0.5) / h - 1.0  # float32, then cast: bfloat16 would merge rows of 256 bands
        fill = tf.broadcast_to(tf.reshape(tf.cast(rows, x.dtype), (1, -1, 1, 1)), tf.concat([shape[:-1], [1]], 0))
        return tf.concat([x, fill], -1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)


class LeakyReLU(layers.LeakyReLU):
    """Keras's LeakyReLU computed as ``max(x, slope * x)``: the same function for a slope below 1. The critics'.

    Why: in the compiled train step TensorFlow's graph optimizer (grappler's remapper) fuses the critic's
    Conv + BiasAdd + LeakyRelu, then fails on the penalty's gradient, which still reads the BiasAdd it
    removed ("remapper failed: ... LeakyReluGrad exist for missing node ... BiasAdd"); the failure discards
    every fusion of the step. ``maximum`` is not fused, so the others are kept (docs/training.md, "The
    activation"). The generators keep Keras's layer: their convolutions have no bias (BatchNorm follows),
    and there it measured as fast within the noise. The class name is Keras's, so weight files name it as before.
    """

    def call(self, x):
        # slope * x first: at a tie (x = 0) the gradient goes to the first argument, so it is the slope, as Keras's
        return keras.ops.maximum(x * self.negative_slope, x)


class BatchNormalization(layers.BatchNormalization):
    """Keras's BatchNormalization computed by TensorFlow's fused kernel (``FusedBatchNormV3``). The generators'.

    Why: Keras 3 writes the layer in backend-neutral ops, and under mixed precision it first casts the whole
    activation to float32; the fused kernel (what tf.keras 2's ``fused=True`` ran) reads bfloat16 or float16 as it
    is, keeps its statistics in float32 and normalises in one pass: a generator call takes a fifth less time in
    bfloat16 (docs/training.md, "BatchNorm in one kernel"). The statistics are Keras's: batch mean and population
    variance while training, moving averages updated as ``momentum * moving + (1 - momentum) * batch``, the moving
    ones otherwise. Synchronized BatchNorm (several replicas), renorm and masks take Keras's own path. The class
    name is Keras's, so weight files name it as before.
    """

    def call(self, inputs, training=None, mask=None):
        rank = len(inputs.shape)
        if not self._fusable(rank, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, self.compute_dtype)
        if rank == 3:  # (B, T, C) as (B, 1, T, C): the kernel takes NHWC
            x = x[:, tf.newaxis]
        channels = int(x.shape[-1])
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        if training and self.trainable:
            y, mean, variance = self._batch_statistics(x, scale, offset)
            momentum = tf.cast(self.momentum, tf.float32)
            self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        else:
            y = tf.raw_ops.FusedBatchNormV3(x=x, scale=scale, offset=offset, mean=self.moving_mean,
                                            variance=self.moving_variance, epsilon=self.epsilon,
                                            data_format="NHWC", is_training=False)[0]  # fmt: skip
        return y[:, 0] if rank == 3 else y

    def _fusable(self, rank: int, mask) -> bool:
        """Whether the kernel computes this call; what only Keras's path handles stays there."""
        plain = not (self.synchronized or self.renorm) and mask is None
        return plain and rank in (3, 4) and self.axis in (-1, rank - 1)

    def _batch_statistics(self, x, scale, offset):
        """The normalised batch, its mean and its population variance (the kernel returns the sample variance,
        n / (n - 1) of it, which tf.keras 2 averaged; Keras 3 and this layer keep the population's)."""
        y, mean, sample_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon,
            data_format="NHWC", is_training=True,
        )  # fmt: skip
        n = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
        # no_nan: one value per channel has variance 0, where cuDNN's sample variance is NaN (TF issue 34062)
        return y, mean, tf.math.multiply_no_nan(sample_variance, (n - 1.0) / n)


class PadConstant(layers.Layer):
    """Pad the bottom/right of (B, H, W, C) to (B, H + dh, W + dw, C) with a constant (here -1, silence)."""

    def __init__(self, pad: tuple[int, int], value: float = -1.0, **kwargs):
        super().__init__(**kwargs)
        self.pad, self.value = (int(pad[0]), int(pad[1])), float(value)

    def call(self, x):
        if self.pad == (0, 0):
            return x
        return keras.ops.pad(x, [[0, 0], [0, self.pad[0]], [0, self.pad[1]], [0, 0]], constant_values=self.value)

    def compute_output_shape(self, shape):
        b, h, w, c = shape
        return (b, None if h is None else h + self.pad[0], None if w is None else w + self.pad[1], c)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "value": self.value}


class BandNorm(layers.Layer):
    """Standardise each row (mel band) of (B, rows, frames, C): (x - mean[row]) / std[row].

    The statistics are fixed, non-trainable weights (saved with the critic and its checkpoints), set
    from the training mels by :func:`~audiowgan.nn.model.set_band_stats`; until then mean 0 and std 1, the identity.
    """

    def __init__(self, rows: int, **kwargs):
        super().__init__(**kwargs)
        self.rows = int(rows)

    def build(self, shape):
        self.mean = self.add_weight(shape=(self.rows,), initializer="zeros", trainable=False, name="mean")
        self.std = self.add_weight(shape=(self.rows,), initializer="ones", trainable=False, name="std")

    def call(self, x):
        mean, std = (keras.ops.reshape(keras.ops.cast(v, x.dtype), (1, -1, 1, 1)) for v in (self.mean, self.std))
        return (x - mean) / std

    def get_config(self):
        return {**super().get_config(), "rows": self.rows}


class MinibatchStd(layers.Layer):
    """ProGAN's minibatch standard deviation (Karras et al. 2018): one channel more, the standard deviation
    over each group of ``group_size`` consecutive examples of every feature, averaged over features.

    A critic that sees it can tell a batch whose examples are too alike (too little variety, the start of
    mode collapse) from a real one, which no per-example critic can. Groups are consecutive rows, so a
    batch of real rows followed by as many generated ones (:func:`~audiowgan.nn.objective.mean_scores`) never mixes the two in one
    group; the batch size must be a multiple of ``group_size``.
    """

    def __init__(self, group_size: int, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)

    def call(self, x):
        shape, rank = tf.shape(x), len(x.shape)
        groups = tf.reshape(tf.cast(x, tf.float32), tf.concat([[-1, self.group_size], shape[1:]], 0))
        std = tf.sqrt(tf.math.reduce_variance(groups, axis=1) + 1e-8)  # (B / g, *features)
        per_group = tf.reduce_mean(std, axis=list(range(1, rank)))  # (B / g,)
        per_row = tf.reshape(tf.repeat(per_group, self.group_size), [-1] + [1] * (rank - 1))  # (B, 1, ...)
        fill = tf.broadcast_to(tf.cast(per_row, x.dtype), tf.concat([shape[:-1], [1]], 0))
        return tf.concat([x, fill], -1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


class ClipStats(layers.Layer):
    """(B, n_mels, frames, 1) -> (B, 2 n_mels): each band's mean over the clip's frames, then its standard
    deviation over them, in float32.

    The critic's convolutions each see a few dozen frames, and its last layer is linear in their features,
    so neither can weigh the whole clip's spectrum or how far each band moves over it. Real segments hold
    one texture for their length and differ from each other; the peak-normed generator's drift over the
    clip and resemble each other (in the quality benchmark's four seeds their mean spectra differed 0.67x and
    0.80x as much as real segments', their bands moved 1.15x and 1.27x as much over a clip, orchestral and
    electronic; docs/training.md). Given these statistics, a critic can tell both apart.
    """

    def call(self, x):
        x = tf.cast(x[..., 0], tf.float32)
        mean = tf.reduce_mean(x, axis=2)
        std = tf.sqrt(tf.reduce_mean(tf.square(x - mean[..., None]), axis=2) + 1e-6)  # eps: finite d/dx at std 0
        return tf.concat([mean, std], -1)

    def compute_output_shape(self, shape):
        return (shape[0], 2 * shape[1])


class Modulate(layers.Layer):
    """``[x, scale, shift]`` -> ``x * (1 + scale) + shift``: (B, ..., C) features, (B, C) scale and shift per example.

    Self-modulation's affine step (Chen et al. 2019, "On Self Modulation for Generative Adversarial Networks"):
    after a BatchNorm without its own scale and offset, each example's channels are scaled and shifted by
    functions of its latent vector. ``1 + scale`` so that a scale near 0 leaves the normalised features as they are.
    """

    def call(self, inputs):
        x, scale, shift = inputs
        shape = (-1, *(1,) * (len(x.shape) - 2), x.shape[-1])
        scale, shift = (keras.ops.reshape(keras.ops.cast(v, x.dtype), shape) for v in (scale, shift))
        return x * (1.0 + scale) + shift

    def compute_output_shape(self, shapes):
        return shapes[0]


def resize_fold(kernel_size: int) -> np.ndarray:
    """(K, k) 0/1 matrix that folds the k taps of a 'same' convolution run after a nearest x2 upsampling into
    the K taps of one stride-2 'SAME' transposed convolution computing the same output (K = k + 1 for odd
    k, k + 2 for even k, whose last tap is then zero: TensorFlow's 'SAME' padding is one short for them).

    Output sample o of the pair reads upsampled samples o + t - p (tap t < k, p = (k - 1) // 2), which are
    input samples (o + t - p) // 2. A transposed convolution with padding P = k - 1 - p reaches o from
    input sample i through tap j = o - 2i + P; that is the pair's tap t exactly when t is k - 1 - j or k - j.
    """
    k = int(kernel_size)
    taps = k + 1 if k % 2 else k + 2
    return np.array([[float(t in (k - 1 - j, k - j)) for t in range(k)] for j in range(taps)], np.float32)


class _ResizeConv:
    """What :class:`ResizeConv2D` and :class:`ResizeConv1D` share: a nearest x2 upsampling followed by this 'same'
    Conv, computed as one stride-2 'SAME' transposed convolution whose kernel is the conv's with its taps summed
    where they read the same input sample (:func:`resize_fold` along every axis)."""

    def __init__(self, filters: int, kernel_size: int, **kwargs):
        super().__init__(filters, kernel_size, **{"padding": "same", **kwargs})  # from_config passes them all
        rank = len(self.kernel_size)
        plain = self.strides == (1,) * rank and self.dilation_rate == (1,) * rank and self.groups == 1
        if not (plain and self.padding == "same" and self.data_format == "channels_last"):
            raise ValueError(
                f"{type(self).__name__} is a plain 'same' stride-1 channels-last convolution after a x2 upsampling"
            )
        if len(set(self.kernel_size)) != 1:
            raise ValueError(f"kernel_size={self.kernel_size!r} must be square")
        fold = resize_fold(self.kernel_size[0])
        self._taps = fold.shape[0]
        self._fold = functools.reduce(np.kron, [fold] * rank)  # (K**rank, k**rank): every axis folded at once

    def _folded_kernel(self, dtype) -> tf.Tensor:
        """The (k, ..., in, out) kernel folded into the (K, ..., out, in) filter that TensorFlow's transposed
        convolutions take. A matmul over the flattened taps: 3x faster than the equivalent einsum, which
        transposes the larger folded kernel."""
        rank = len(self.kernel_size)
        kernel = tf.transpose(tf.cast(self.kernel, dtype), (*range(rank), rank + 1, rank))
        folded = tf.matmul(tf.constant(self._fold, dtype), tf.reshape(kernel, (self._fold.shape[1], -1)))
        return tf.reshape(folded, (*(self._taps,) * rank, self.filters, -1))

    def call(self, x):
        shape = tf.shape(x)
        out_shape = tf.concat([shape[:1], 2 * shape[1:-1], [self.filters]], axis=0)
        y = tf.nn.conv_transpose(x, self._folded_kernel(x.dtype), out_shape, strides=2, padding="SAME")
        if self.use_bias:
            y = y + tf.cast(self.bias, y.dtype)
        return self.activation(y)

    def compute_output_shape(self, shape):
        return (shape[0], *(None if n is None else 2 * n for n in shape[1:-1]), self.filters)


class ResizeConv2D(_ResizeConv, layers.Conv2D):
    """A nearest-neighbour x2 upsampling followed by this 'same' k x k Conv2D, computed as one stride-2
    transposed convolution whose kernel is the k x k one with its taps summed where they read the same
    input pixel (:func:`resize_fold`).

    The same function and the same weights (the k x k kernel, saved and loaded as before). The pair
    convolves a 4x larger map that repeats each input pixel four times, so it spends 4 k^2 taps per input
    pixel (k^2 for each of the four output pixels it becomes); the transposed convolution spends (k + 1)^2,
    16 against 36 for k = 3 (2.25x less arithmetic; measured about 2x faster per layer in float32 and
    bfloat16 on a CPU). 'SAME' padding on purpose: with explicit padding TensorFlow's CPU transposed
    convolution leaves oneDNN and is slower than the pair (2x in float32, 20x in bfloat16).
    """


class ResizeConv1D(_ResizeConv, layers.Conv1D):
    """:class:`ResizeConv2D` in time only: a nearest x2 upsampling of (B, T, C) followed by this 'same'
    k-tap Conv1D, computed as one stride-2 transposed convolution with the folded taps; 2k taps per input
    step become k + 1 (4 against 6 for k = 3)."""
