"""Griffin-Lim on TensorFlow (for GPUs): the backend that :func:`audiowgan.dsp.inversion.mel_to_audio`
takes as ``backend=griffin_lim_tf``; :func:`gpu_backend` gives it only where TensorFlow sees a GPU."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf


def gpu_backend():
    """:func:`griffin_lim_tf` when TensorFlow sees a GPU, else None (numpy): for callers that run TensorFlow anyway."""
    return griffin_lim_tf if tf.config.list_physical_devices("GPU") else None


def griffin_lim_tf(
    mag: np.ndarray, spec: np.ndarray, *, n_fft: int, hop_length: int, n_iter: int, length: int, momentum: float
) -> np.ndarray:
    """The same fast Griffin-Lim loop in TensorFlow (for GPUs): (B, T, bins) magnitude and start -> (B, length).

    Same STFT conventions as :func:`_stft`/:func:`_istft`: centered by zero-padding n_fft // 2 on each
    side, periodic Hann window, inverse by window-sum-square-normalised overlap-add.
    """
    pad, t = n_fft // 2, mag.shape[1]
    window = functools.partial(tf.signal.hann_window, periodic=True)
    inverse_window = tf.signal.inverse_stft_window_fn(hop_length, forward_window_fn=window)
    accel = momentum / (1.0 + momentum)

    def stft(y):
        return tf.signal.stft(tf.pad(y, [[0, 0], [pad, pad]]), n_fft, hop_length, n_fft, window_fn=window)

    def istft(s, n):
        y = tf.signal.inverse_stft(s, n_fft, hop_length, n_fft, window_fn=inverse_window)[:, pad : pad + n]
        return tf.pad(y, [[0, 0], [0, n - tf.shape(y)[1]]])

    @tf.function
    def run(mag, spec):
        mag_c = tf.cast(mag, tf.complex64)
        rebuilt = tf.zeros_like(spec)
        for _ in tf.range(n_iter):
            prev = rebuilt
            rebuilt = stft(istft(spec, hop_length * (t - 1)))
            target = rebuilt - tf.cast(accel, tf.complex64) * prev
            spec = mag_c * tf.math.exp(tf.complex(0.0, tf.math.angle(target)))  # target magnitude, phase of t_n
        return istft(spec, length)

    return run(tf.constant(mag, tf.float32), tf.constant(spec, tf.complex64)).numpy()
