"""Generator and critic builders and the WGAN-GP losses (Gulrajani et al. 2017).

Two families (``model.kind``), both for any (n_mels, frames) and both taking and giving
(B, n_mels, frames, 1) mels in [-1, 1]:

- ``conv2d``: the write-up's networks. The generator starts from a dense layer at 1/s of the
  target size (s = 2**(len(channels) - 1)), doubles it per block and crops to the exact size;
  the critic pads its input with -1 (the silence floor of the [-1, 1] mel scaling) to a multiple
  of 2**len(channels) before its stride-2 blocks. With the default widths and a 256x256 input
  these are the write-up's networks (keras-io WGAN-GP blocks: 3x3 after each upsampling in the
  generator, 5x5 stride 2 in the critic).
- ``conv1d``: the mel bands are channels and every convolution runs over time only, as in
  MelGAN's discriminator: each layer sees the whole spectrum (harmonics sit far apart in
  frequency) for a fraction of the 2-D arithmetic. Same shape rules, in time only.

Either generator can end in :class:`PeakNorm` (``model.generator_peak_norm``, the default since 2026-12-05):
each mel shifted so that its loudest bin is +1, as every training mel is scaled relative to its own peak.

Either critic can standardise each band first (``model.critic_band_norm``, :class:`BandNorm`, as SpecGAN
normalises each frequency bin); its gradient penalty is then measured in those standardised units. Either
can see how much the examples of its batch differ before its last block (``model.critic_minibatch_std``,
:class:`MinibatchStd`, ProGAN's minibatch standard deviation), so a generator that makes too little
variety is told so, and can score each band's mean and spread over the whole clip (``model.critic_clip_stats``,
:class:`ClipStats`), which its convolutions see only a few dozen frames of.

Imports TensorFlow, as everything in :mod:`audiowgan.nn` may and nothing outside it does.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from audiowgan.core.names import WEIGHTS
from audiowgan.core.settings import ModelSpec
from audiowgan.nn.layers import (
    BandNorm,
    BandPosition,
    BatchNormalization,
    ClipStats,
    LeakyReLU,
    MinibatchStd,
    Modulate,
    PadConstant,
    PeakNorm,
)

GP_EPS = 1e-12  # inside the gradient-norm sqrt, so d sqrt/dx stays finite at a zero gradient
LEAKY_SLOPE = 0.2


def _check(*, channels: list[int], shape: tuple[int, int], kernel_size: int, what: str) -> None:
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"{what}_channels={channels!r} must be a non-empty list of positive integers")
    if len(shape) != 2 or any(int(n) < 1 for n in shape):
        raise ValueError(f"shape={shape!r} must be (n_mels, frames), both positive")
    if int(kernel_size) < 1:
        raise ValueError(f"kernel_size={kernel_size!r} must be a positive integer")


UPSAMPLE_MODES = ("resize", "transpose")


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


def build_generator(
    *,
    noise_dim: int,
    channels: list[int],
    output_shape: tuple[int, int],
    kernel_size: int = 5,
    upsample: str = "resize",
    synchronized_bn: bool = False,
    peak_norm: bool = False,
    self_modulation: bool = False,
    band_position: bool = False,
    writeup_layers: bool = False,
) -> keras.Model:
    """Noise (B, noise_dim) -> mel (B, n_mels, frames, 1) in [-1, 1] (tanh; with ``peak_norm``, then
    :class:`PeakNorm`: each mel's largest value 1, as the training mels').

    Dense -> (ceil(n_mels/s), ceil(frames/s), channels[0]) with s = 2**(len(channels)-1), then one
    upsampling block per further width, a final 'same' conv to one channel with tanh, and a crop of the
    bottom/right excess to exactly (n_mels, frames). A block doubles height and width, then BatchNorm +
    LeakyReLU:

    - ``resize``: nearest-neighbour x2, then a 'same' Conv2D (Odena et al. 2016, "Deconvolution and
      checkerboard artifacts"); every output pixel sees the same number of kernel taps, so no grid.
      Computed as one layer, :class:`ResizeConv2D`, at 16/36 of the pair's arithmetic (3x3 kernels);
      ``writeup_layers=True`` builds the pair as two layers (UpSampling2D, Conv2D), as the write-up and
      the weight files written before 2026-12-04 have it, and Keras's own BatchNormalization (ours is
      :class:`BatchNormalization`, fused): the same function and weights, slower.
    - ``transpose``: Conv2DTranspose(stride 2), as in the write-up; with a kernel not divisible by the
      stride its kernel overlaps unevenly, which prints a checkerboard on the spectrogram.

    Both have the same parameter count (a k x k kernel from c_in to c_out channels, no bias).
    ``synchronized_bn``: BatchNorm over the global batch under a multi-replica strategy, so the
    moving statistics that are saved are the same on every replica (the variables are the same).
    ``self_modulation``: every BatchNorm's scale and offset are functions of the noise (:func:`_norm`).
    ``band_position``: every convolution also reads each row's band position (:class:`BandPosition`).
    """
    _check(channels=channels, shape=output_shape, kernel_size=kernel_size, what="generator")
    if int(noise_dim) < 1:
        raise ValueError(f"noise_dim={noise_dim!r} must be a positive integer")
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f"upsample={upsample!r} must be one of {', '.join(UPSAMPLE_MODES)}")
    n_mels, frames = (int(n) for n in output_shape)
    s = 2 ** (len(channels) - 1)
    h0, w0 = math.ceil(n_mels / s), math.ceil(frames / s)
    z = keras.Input((int(noise_dim),), name="noise")
    x = layers.Dense(h0 * w0 * int(channels[0]), use_bias=False, name="dense")(z)  # bias would be undone by BN
    x = layers.Reshape((h0, w0, int(channels[0])))(x)
    # synchronized: under MirroredStrategy the batch statistics (and so the moving averages that are
    # saved) are those of the global batch, the same on every replica; one replica is unaffected.
    x = _norm(x, z, "dense_bn", synchronized_bn, self_modulation, writeup_layers)  # per channel, like every block
    x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    for i, c in enumerate(channels[1:]):
        x = _band_position(x, band_position, f"up{i}_position")
        if upsample == "resize" and not writeup_layers:
            x = ResizeConv2D(int(c), kernel_size, use_bias=False, name=f"up{i}")(x)  # nearest x2, then the conv
        elif upsample == "resize":
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}_resize")(x)
            x = layers.Conv2D(int(c), kernel_size, padding="same", use_bias=False, name=f"up{i}")(x)
        else:
            x = layers.Conv2DTranspose(int(c), kernel_size, strides=2, padding="same", use_bias=False, name=f"up{i}")(x)
        x = _norm(x, z, f"up{i}_bn", synchronized_bn, self_modulation, writeup_layers)
        x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    # float32 output even under a mixed_float16 policy: tanh range and the loss stay in full precision.
    x = _band_position(x, band_position, "to_mel_position")
    x = layers.Conv2D(1, kernel_size, padding="same", activation="tanh", dtype="float32", name="to_mel")(x)
    x = layers.Cropping2D(((0, h0 * s - n_mels), (0, w0 * s - frames)), dtype="float32", name="crop")(x)
    return keras.Model(z, _peak_norm(x, peak_norm), name="generator")


BAND_NORM = "band_norm"


def _critic_input(x_in, pad: tuple[int, int], band_norm: bool):
    """Padding with -1 (silence), then, with ``band_norm``, each band standardised: the padded rows
    below the last band keep mean 0 and std 1, so they stay -1, and padded frames become each band's silence."""
    x = PadConstant(pad, -1.0, name="pad")(x_in)
    return BandNorm(int(x.shape[1]), dtype="float32", name=BAND_NORM)(x) if band_norm else x  # full precision


def set_band_stats(critic: keras.Model, mean, std) -> None:
    """Give the critic's :class:`BandNorm` the per-band ``mean`` and ``std`` (n_mels,) of the training mels."""
    layer = critic.get_layer(BAND_NORM)
    pad = layer.rows - len(mean)
    layer.mean.assign(np.concatenate([np.asarray(mean, np.float32), np.zeros(pad, np.float32)]))
    layer.std.assign(np.concatenate([np.asarray(std, np.float32), np.ones(pad, np.float32)]))


def band_std(critic: keras.Model) -> tf.Tensor | None:
    """(1, n_mels, 1, 1) standard deviations of the critic's input bands, or None without band norm."""
    if BAND_NORM not in {layer.name for layer in critic.layers}:
        return None
    n_mels = int(critic.input_shape[1])
    return tf.reshape(tf.cast(critic.get_layer(BAND_NORM).std[:n_mels], tf.float32), (1, n_mels, 1, 1))


def build_critic(
    *,
    channels: list[int],
    input_shape: tuple[int, int],
    kernel_size: int = 5,
    band_norm: bool = False,
    minibatch_std: int = 0,
    clip_stats: bool = False,
    band_position: bool = False,
    writeup_layers: bool = False,
) -> keras.Model:
    """Mel (B, n_mels, frames, 1) -> score (B, 1), linear: no sigmoid and no batch norm (WGAN-GP).

    The input is padded with -1 to a multiple of 2**len(channels) (and with ``band_norm`` standardised
    per band, :class:`BandNorm`), then one Conv2D(stride 2) + LeakyReLU block per width, Flatten and Dense(1);
    ``minibatch_std`` > 0: :class:`MinibatchStd` over groups of that many examples before the last block.
    ``clip_stats``: the score also sees each band's mean and spread over the clip (:class:`ClipStats`).
    ``band_position``: every convolution also reads each row's band position (:class:`BandPosition`).
    ``writeup_layers``: Keras's own LeakyReLU layers (the same function, slower; see :class:`LeakyReLU`).
    """
    _check(channels=channels, shape=input_shape, kernel_size=kernel_size, what="critic")
    n_mels, frames = (int(n) for n in input_shape)
    f = 2 ** len(channels)
    x_in = keras.Input((n_mels, frames, 1), name="mel")
    x = _critic_input(x_in, (-n_mels % f, -frames % f), band_norm)
    for i, c in enumerate(channels):
        x = _minibatch_std(x, minibatch_std) if i == len(channels) - 1 else x
        x = _band_position(x, band_position, f"down{i}_position")
        x = layers.Conv2D(int(c), kernel_size, strides=2, padding="same", name=f"down{i}")(x)
        x = (layers.LeakyReLU if writeup_layers else LeakyReLU)(LEAKY_SLOPE)(x)
    return keras.Model(x_in, _score(x, x_in, clip_stats), name="critic")


def build_generator_1d(
    *,
    noise_dim: int,
    channels: list[int],
    output_shape: tuple[int, int],
    kernel_size: int = 3,
    synchronized_bn: bool = False,
    peak_norm: bool = False,
    self_modulation: bool = False,
    writeup_layers: bool = False,
) -> keras.Model:
    """Noise (B, noise_dim) -> mel (B, n_mels, frames, 1) in [-1, 1], convolving over time only (``peak_norm``,
    ``self_modulation``: as :func:`build_generator`).

    Dense -> (ceil(frames/s), channels[0]) with s = 2**(len(channels)-1), then per further width a
    nearest x2 upsampling in time, a 'same' Conv1D (the two as one :class:`ResizeConv1D`; two layers,
    as before 2026-12-04, with ``writeup_layers=True``), BatchNorm and LeakyReLU; a final Conv1D to
    n_mels channels with tanh, cropped to ``frames`` and turned to (n_mels, frames, 1).
    """
    _check(channels=channels, shape=output_shape, kernel_size=kernel_size, what="generator")
    if int(noise_dim) < 1:
        raise ValueError(f"noise_dim={noise_dim!r} must be a positive integer")
    n_mels, frames = (int(n) for n in output_shape)
    s = 2 ** (len(channels) - 1)
    t0 = math.ceil(frames / s)
    z = keras.Input((int(noise_dim),), name="noise")
    x = layers.Dense(t0 * int(channels[0]), use_bias=False, name="dense")(z)
    x = layers.Reshape((t0, int(channels[0])))(x)
    x = _norm(x, z, "dense_bn", synchronized_bn, self_modulation, writeup_layers)
    x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    for i, c in enumerate(channels[1:]):
        if not writeup_layers:
            x = ResizeConv1D(int(c), kernel_size, use_bias=False, name=f"up{i}")(x)  # nearest x2, then the conv
        else:
            x = layers.UpSampling1D(2, name=f"up{i}_resize")(x)
            x = layers.Conv1D(int(c), kernel_size, padding="same", use_bias=False, name=f"up{i}")(x)
        x = _norm(x, z, f"up{i}_bn", synchronized_bn, self_modulation, writeup_layers)
        x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    x = layers.Conv1D(n_mels, kernel_size, padding="same", activation="tanh", dtype="float32", name="to_mel")(x)
    x = layers.Cropping1D((0, t0 * s - frames), dtype="float32", name="crop")(x)  # (B, frames, n_mels)
    x = layers.Permute((2, 1), dtype="float32", name="bands_first")(x)
    x = layers.Reshape((n_mels, frames, 1), dtype="float32", name="as_image")(x)
    return keras.Model(z, _peak_norm(x, peak_norm), name="generator")


SELF_MODULATION_HIDDEN = 32  # the hidden width of each BatchNorm's scale-and-offset network, as Chen et al.'s


def _norm(x, z, name: str, synchronized: bool, self_modulation: bool, keras_layer: bool = False):
    """BatchNorm per channel. With ``self_modulation`` (Chen et al. 2019) its scale and offset are not weights
    but functions of the noise ``z`` (one hidden ReLU layer each BatchNorm, :class:`Modulate`): the latent
    vector then reaches every block directly, not only through the dense start, so what one clip's noise
    chooses (its timbre, its key) can hold over all of its frames. ``keras_layer``: Keras's own, not the fused one."""
    x = (layers.BatchNormalization if keras_layer else BatchNormalization)(
        synchronized=synchronized, center=not self_modulation, scale=not self_modulation, name=name
    )(x)
    if not self_modulation:
        return x
    h = layers.Dense(SELF_MODULATION_HIDDEN, activation="relu", name=f"{name}_hidden")(z)
    scale = layers.Dense(int(x.shape[-1]), name=f"{name}_scale")(h)
    shift = layers.Dense(int(x.shape[-1]), name=f"{name}_shift")(h)
    return Modulate(name=f"{name}_modulate")([x, scale, shift])


def _peak_norm(x, on: bool):
    return PeakNorm(dtype="float32", name="peak_norm")(x) if on else x


def build_critic_1d(
    *,
    channels: list[int],
    input_shape: tuple[int, int],
    kernel_size: int = 5,
    band_norm: bool = False,
    minibatch_std: int = 0,
    clip_stats: bool = False,
    writeup_layers: bool = False,
) -> keras.Model:
    """Mel (B, n_mels, frames, 1) -> score (B, 1), the bands as channels: padded in time with -1 to a
    multiple of 2**len(channels) (and with ``band_norm`` standardised per band), one Conv1D(stride 2) +
    LeakyReLU per width (with ``minibatch_std``, :class:`MinibatchStd` before the last), Flatten, Dense(1)
    (``clip_stats``: as :func:`build_critic`)."""
    _check(channels=channels, shape=input_shape, kernel_size=kernel_size, what="critic")
    n_mels, frames = (int(n) for n in input_shape)
    f = 2 ** len(channels)
    x_in = keras.Input((n_mels, frames, 1), name="mel")
    x = _critic_input(x_in, (0, -frames % f), band_norm)
    x = layers.Reshape((n_mels, frames + (-frames % f)))(x)
    x = layers.Permute((2, 1), name="bands_last")(x)  # (B, frames, n_mels): bands are channels
    for i, c in enumerate(channels):
        x = _minibatch_std(x, minibatch_std) if i == len(channels) - 1 else x
        x = layers.Conv1D(int(c), kernel_size, strides=2, padding="same", name=f"down{i}")(x)
        x = (layers.LeakyReLU if writeup_layers else LeakyReLU)(LEAKY_SLOPE)(x)
    return keras.Model(x_in, _score(x, x_in, clip_stats), name="critic")


def _band_position(x, on: bool, name: str):
    return BandPosition(name=name)(x) if on else x


def _minibatch_std(x, group_size: int):
    return MinibatchStd(group_size, name="minibatch_std")(x) if group_size else x


def _score(x, x_in, clip_stats: bool):
    """Flatten and Dense(1); with ``clip_stats``, the flattened features beside one hidden layer (as wide as the
    statistics) over :class:`ClipStats` of the unpadded input: each band's mean and spread over the clip."""
    x = layers.Flatten()(x)
    if clip_stats:
        stats = ClipStats(name="clip_stats")(x_in)
        h = layers.Dense(int(stats.shape[-1]), name="clip_stats_dense")(stats)
        x = layers.Concatenate(name="with_clip_stats")([x, LeakyReLU(LEAKY_SLOPE)(h)])
    return layers.Dense(1, dtype="float32", name="score")(x)


KINDS = ("conv2d", "conv1d")


def gradient_penalty(critic, real, fake, alpha) -> tf.Tensor:
    """mean_i (||grad_x D(x_i)||_2 - 1)^2 at x_i = real_i + alpha_i (fake_i - real_i).

    ``alpha`` is (B, 1, 1, 1), uniform on [0, 1] per sample; ``GP_EPS`` sits inside the sqrt. A critic
    with band norm is held to a unit gradient with respect to its standardised input (the gradient
    times each band's std, by the chain rule), so the penalty means what it means without it.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    interp = real + tf.cast(alpha, tf.float32) * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interp)
        score = tf.cast(critic(interp, training=True), tf.float32)
    grads = tape.gradient(score, interp)
    std = band_std(critic)
    if std is not None:
        grads = grads * std
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + GP_EPS)
    return tf.reduce_mean(tf.square(norm - 1.0))


def mean_scores(critic, real, fake) -> tuple[tf.Tensor, tf.Tensor]:
    """mean D(real) and mean D(fake) in float32, from one critic call on both batches."""
    b = tf.shape(real)[0]
    scores = tf.cast(critic(tf.concat([tf.cast(real, fake.dtype), fake], 0), training=True), tf.float32)
    return tf.reduce_mean(scores[:b]), tf.reduce_mean(scores[b:])


def critic_losses(critic, real, fake, alpha, gp_weight: float, *, penalised: bool = True) -> dict[str, tf.Tensor]:
    """The critic's WGAN-GP loss: d_loss = mean D(fake) - mean D(real) + gp_weight * gp.

    Also returns the penalty gp and wasserstein = mean D(real) - mean D(fake), all float32.
    The real and the fake batch are scored in one critic call (exact: the critic has no batch statistics;
    on a CPU its weight gradients run faster on twice the rows). The penalty keeps its own call: with the
    other two, its double backward would run over all 3B rows, and the step was 2x slower so.
    ``penalised=False`` (``train.gp_every``'s unpenalised updates): no penalty is computed, gp is 0.
    """
    d_real, d_fake = mean_scores(critic, real, fake)
    gp = gradient_penalty(critic, real, fake, alpha) if penalised else tf.constant(0.0)
    wasserstein = d_real - d_fake
    return {"d_loss": -wasserstein + gp_weight * gp, "gradient_penalty": gp, "wasserstein": wasserstein}


def generator_loss(critic, fake) -> tf.Tensor:
    """-mean D(fake), in float32."""
    return -tf.reduce_mean(tf.cast(critic(fake, training=True), tf.float32))


def build_networks(
    spec: ModelSpec, shape: tuple[int, int], *, synchronized_bn: bool = False, writeup_layers: bool = False
) -> tuple[keras.Model, keras.Model]:
    """Generator and critic of ``spec`` (its ``kind``, widths and kernels) for mels of ``shape`` = (n_mels, frames);
    ``writeup_layers=True``: the same networks in the write-up's Keras layers (the resize generators' blocks as
    two layers each, upsampling and convolution, Keras's BatchNormalization and Keras's LeakyReLU in the critic), as
    weight files written before 2026-12-04 name them; slower, for the benchmarks' reference and for reading those."""
    if spec.kind not in KINDS:
        raise ValueError(f"model.kind={spec.kind!r} must be one of {', '.join(KINDS)}")
    g_args = {
        "noise_dim": spec.noise_dim,
        "channels": list(spec.generator_channels),
        "output_shape": shape,
        "kernel_size": spec.generator_kernel_size,
        "synchronized_bn": synchronized_bn,
        "peak_norm": spec.generator_peak_norm,
        "self_modulation": spec.generator_self_modulation,
        "writeup_layers": writeup_layers,
    }
    c_args = {
        "channels": list(spec.critic_channels),
        "input_shape": shape,
        "kernel_size": spec.critic_kernel_size,
        "band_norm": spec.critic_band_norm,
        "minibatch_std": spec.critic_minibatch_std,
        "clip_stats": spec.critic_clip_stats,
        "writeup_layers": writeup_layers,
    }
    if spec.kind == "conv1d":  # ModelSpec refuses band_position with conv1d
        return build_generator_1d(**g_args), build_critic_1d(**c_args)
    position = {"band_position": spec.band_position}
    return build_generator(**g_args, **position, upsample=spec.upsample), build_critic(**c_args, **position)


def read_model_json(model_dir: str | Path) -> tuple[ModelSpec, tuple[int, int], dict]:
    """The settings, mel shape and whole record of a trained model's ``model.json``."""
    record = json.loads((Path(model_dir) / "model.json").read_text())
    return ModelSpec.from_meta(record), (int(record["input_shape"][0]), int(record["input_shape"][1])), record


def load_generator_weights(generator: keras.Model, path: str | Path, spec: ModelSpec, shape: tuple[int, int]) -> None:
    """Load a generator's weights file into ``generator`` (built from ``spec`` for mels of ``shape``), also one
    written before :class:`ResizeConv2D` and :class:`ResizeConv1D`: Keras files name each layer by its class,
    so those hold the same weights, in the same order, under UpSampling and Conv; they go through the unfolded
    twin."""
    with h5py.File(path, "r") as f:
        unfolded = "layers/up_sampling2d" in f or "layers/up_sampling1d" in f
    if not unfolded:
        generator.load_weights(path)
        return
    twin, _ = build_networks(spec, shape, writeup_layers=True)
    twin.load_weights(path)
    generator.set_weights(twin.get_weights())


def load_generator(model_dir: str | Path, *, weights: str = WEIGHTS["raw"]) -> tuple[keras.Model, dict]:
    """Rebuild the generator from ``model_dir/model.json`` and load ``weights`` (a file in ``model_dir``)."""
    spec, shape, record = read_model_json(model_dir)
    generator, _ = build_networks(spec, shape)
    load_generator_weights(generator, Path(model_dir) / weights, spec, shape)
    return generator, record
