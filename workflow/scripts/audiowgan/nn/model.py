"""The generator and the critic: their builders, for the write-up's networks and every option on them.

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

Their layers are in :mod:`audiowgan.nn.layers`, the losses they train on in :mod:`audiowgan.nn.objective`, and
reading a trained generator back in :mod:`audiowgan.nn.model_files`. Imports TensorFlow, as everything in
:mod:`audiowgan.nn` may and nothing outside it does.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

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
    ResizeConv1D,
    ResizeConv2D,
)

LEAKY_SLOPE = 0.2


def _check(*, channels: list[int], shape: tuple[int, int], kernel_size: int, what: str) -> None:
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"{what}_channels={channels!r} must be a non-empty list of positive integers")
    if len(shape) != 2 or any(int(n) < 1 for n in shape):
        raise ValueError(f"shape={shape!r} must be (n_mels, frames), both positive")
    if int(kernel_size) < 1:
        raise ValueError(f"kernel_size={kernel_size!r} must be a positive integer")


UPSAMPLE_MODES = ("resize", "transpose")


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
