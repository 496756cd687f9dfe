"""Differentiable augmentation of mel batches for the critic (DiffAugment, Zhao et al. 2020).

With minutes of music the critic memorises the training segments and stops teaching the
generator. DiffAugment applies the same random, differentiable transforms to every batch the
critic sees, real and generated, in the critic's and in the generator's updates, so the critic
cannot tell real from fake by memorising, and the generator still gets gradients through the
transforms (they are gathers, masks and a clipped offset).

Each transform is applied to each example independently with probability ``p``
(``train.augment``; 0 is the identity), on (B, n_mels, frames, 1) mels in [-1, 1] where -1 is
silence:

- time shift by up to 1/8 of the frames either way, the vacated frames silent;
- time cutout: a span of 1/8 of the frames set to silence;
- frequency cutout: a band of 1/8 of the mel bands set to silence;
- gain: up to 10 dB quieter at top_db 80 (an offset of up to -0.25), floored at -1.

Spectrogram-safe choices: no flips (time reversal turns onsets into swells), no frequency
shifts (they move harmonics off their ratios), and no colour changes, which have no meaning here.
Random numbers are stateless, drawn from the one ``seed`` passed in, so a resumed run and an
uninterrupted one augment identically.
"""

from __future__ import annotations

import tensorflow as tf

SHIFT_FRACTION = 0.125
CUTOUT_FRACTION = 0.125
MAX_ATTENUATION = 0.25  # in [-1, 1] units: 10 dB at top_db 80 (2 units span top_db)


def _chosen(p: float, batch, seed) -> tf.Tensor:
    """(B, 1, 1, 1) booleans, each true with probability ``p``."""
    return tf.random.stateless_uniform((batch, 1, 1, 1), seed=seed) < p


def _uniform_int(batch, low, high, seed) -> tf.Tensor:
    """(B,) integers in [low, high]."""
    return tf.random.stateless_uniform((batch,), seed=seed, minval=low, maxval=high + 1, dtype=tf.int32)


def time_shift(x, shift) -> tf.Tensor:
    """Each example moved by ``shift[b]`` frames (later when positive); frames moved in are silent (-1)."""
    frames = tf.shape(x)[2]
    source = tf.range(frames)[None, :] - shift[:, None]  # (B, frames): where each output frame comes from
    valid = (source >= 0) & (source < frames)
    moved = tf.gather(x, tf.clip_by_value(source, 0, frames - 1), axis=2, batch_dims=1)
    return tf.where(valid[:, None, :, None], moved, -tf.ones_like(x))


def cutout(x, start, width, axis: int) -> tf.Tensor:
    """Silence (-1) over [start[b], start[b] + width) along ``axis`` (1: mel bands, 2: frames)."""
    pos = tf.range(tf.shape(x)[axis])[None, :]
    hole = (pos >= start[:, None]) & (pos < start[:, None] + width)  # (B, size)
    hole = hole[:, :, None, None] if axis == 1 else hole[:, None, :, None]
    return tf.where(hole, -tf.ones_like(x), x)


def augment(x, p: float, seed) -> tf.Tensor:
    """``x`` with each transform applied to each example with probability ``p``; ``seed`` is a (2,) int seed."""
    if p <= 0:
        return x
    seeds = tf.random.experimental.stateless_split(seed, num=8)
    b, n_mels, frames = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    max_shift = tf.cast(tf.cast(frames, tf.float32) * SHIFT_FRACTION, tf.int32)
    shifted = time_shift(x, _uniform_int(b, -max_shift, max_shift, seeds[0]))
    x = tf.where(_chosen(p, b, seeds[1]), shifted, x)
    for axis, size, k in ((2, frames, 2), (1, n_mels, 4)):
        width = tf.maximum(1, tf.cast(tf.cast(size, tf.float32) * CUTOUT_FRACTION, tf.int32))
        holed = cutout(x, _uniform_int(b, 0, size - width, seeds[k]), width, axis)
        x = tf.where(_chosen(p, b, seeds[k + 1]), holed, x)
    offset = -MAX_ATTENUATION * tf.random.stateless_uniform((b, 1, 1, 1), seed=seeds[6], dtype=x.dtype)
    quieter = tf.maximum(x + offset, -1.0)
    return tf.where(_chosen(p, b, seeds[7]), quieter, x)
