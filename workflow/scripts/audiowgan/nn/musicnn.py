"""musicnn window embeddings: a music-tagging network's view of audio, for music-level distances.

CREPE (:mod:`audiowgan.nn.crepe`) sees pitch and timbre of 64-ms frames. musicnn (Pons and Serra,
ISMIR 2019 late-breaking demo) was trained to tag 3-s windows of songs with genre, instrument,
mood and era tags, so it sees seconds: rhythm, texture, instrumentation. Its weights ship inside
the ``musicnn`` 0.1.0 wheel (ISC licence, TF1 checkpoints): nothing is downloaded at run time.
The wheel's own code needs TF1 graph mode and numpy < 1.17; only its checkpoints and tag lists
are used here. The network is rebuilt with Keras 3 and its variables are read with
``tf.compat.v1.train.NewCheckpointReader`` (the checkpoint's index names a folder on its
author's machine, so ``tf.train.load_checkpoint`` of the folder cannot find it).

Checked against the original code run under TF 2.21 + tf-keras (``scripts/musicnn_reference.py``,
``tests/test_musicnn.py``): embeddings and tag probabilities agree to 3e-6.

Defaults, argued in docs/embeddings.md: model ``MSD_musicnn`` (Million Song Dataset tags), layer
``penultimate`` (the 200 units the 50 tags are read from linearly), clips brought to -20 dBFS RMS
(musicnn does not normalise; its embeddings move with the level), 3-s windows (187 mel frames)
every second, a clip under 3 s played on repeat (its audio tiled to 3 s, one window; musicnn
trained with "repeat-pad"). The input pipeline is musicnn's exactly:
16 kHz (soxr), librosa mel power (n_fft 512, hop 256, 96 Slaney bands, centred frames with zero
padding as librosa 0.11 runs musicnn's call), cast to float16, ``log10(10000 x + 1)`` in float16.
One deviation: that float16 product overflows to inf where a band's power exceeds 6.55 (a loud
bass note), and the original then returns NaN for the window; here it is held at 65504.
"""

from __future__ import annotations

import functools
import importlib.metadata
from numbers import Real

import numpy as np

from audiowgan.core.check import positive_int
from audiowgan.dsp import resample
from audiowgan.nn import musicnn_network
from audiowgan.nn.musicnn_network import LAYERS, MODELS, N_MELS, WEIGHTS_PACKAGE, WINDOW_FRAMES, checkpoint_prefix

__all__ = [
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_LEVEL_DBFS",
    "DEFAULT_LAYER",
    "DEFAULT_MODEL",
    "EMBEDDING",
    "LAYERS",
    "MODELS",
    "clip_embeddings",
    "describe",
    "embed",
    "labels",
    "n_windows",
    "tags",
]

SAMPLE_RATE = 16000  # musicnn's input rate
N_FFT = 512
HOP_LENGTH = 256
_WINDOW_SAMPLES = 3 * SAMPLE_RATE  # a short clip is tiled to this length: 1 + 48000 // 256 = 188 frames
_COMPRESSION = "log10(10000 x + 1) in float16, held below its overflow"
_MEL_MAX = np.finfo(np.float16).max  # 65504: where musicnn's float16 10000 * x overflows to inf

DEFAULT_MODEL = "MSD_musicnn"
DEFAULT_LAYER = "penultimate"
DEFAULT_HOP_SECONDS = 1.0
DEFAULT_LEVEL_DBFS = -20.0  # clips are scaled to this RMS first: musicnn does not normalise its input
_BATCH_WINDOWS = 8  # windows per forward pass; fixed so a window's result never depends on its batch


def _embedding(model: str, layer: str) -> dict:
    return {
        "name": f"musicnn-{model.split('_')[0].lower()}-{layer}",
        "network": f"musicnn {model} music tagger (Pons and Serra 2019)",
        "model": model,
        "layer": layer,
        "dimension": LAYERS[layer],
        "sample_rate": SAMPLE_RATE,
        "window_frames": WINDOW_FRAMES,
        "window_seconds": 3.0,
        "mel": {"n_fft": N_FFT, "hop_length": HOP_LENGTH, "n_mels": N_MELS, "compression": _COMPRESSION},
        "short_clips": "tiled to 3 s (one window)",
        "weights_package": WEIGHTS_PACKAGE,
    }


EMBEDDING = _embedding(DEFAULT_MODEL, DEFAULT_LAYER)
"""What the default embedding is (static part of :func:`describe`)."""


# --------------------------------------------------------------------------- checks


def _check_model(model) -> str:
    if model not in MODELS:
        raise ValueError(f"model={model!r} must be one of {MODELS}")
    return model


def _check_layer(layer) -> str:
    if layer not in LAYERS:
        raise ValueError(f"layer={layer!r} must be one of {tuple(LAYERS)}")
    return layer


def _hop_frames(hop_seconds) -> int:
    """Seconds to mel frames as musicnn's extractor converts ``input_overlap`` (librosa.time_to_frames)."""
    if isinstance(hop_seconds, bool) or not isinstance(hop_seconds, Real) or not np.isfinite(hop_seconds):
        raise ValueError(f"hop_seconds={hop_seconds!r} must be a positive number")
    hop = (int(hop_seconds * SAMPLE_RATE) - N_FFT // 2) // HOP_LENGTH
    if hop < 1:
        raise ValueError(f"hop_seconds={hop_seconds!r} must be at least one mel frame ({N_FFT / SAMPLE_RATE} s)")
    return hop


def _check_level(level_dbfs) -> float | None:
    if level_dbfs is None:
        return None
    if isinstance(level_dbfs, bool) or not isinstance(level_dbfs, Real) or not -120 <= level_dbfs <= 0:
        raise ValueError(f"level_dbfs={level_dbfs!r} must be None or an RMS level in dBFS from -120 to 0")
    return float(level_dbfs)


def _at_level(w: np.ndarray, level_dbfs: float | None) -> np.ndarray:
    """Each clip (row) scaled to ``level_dbfs`` RMS; digital silence and ``None`` left as they are."""
    if level_dbfs is None:
        return w
    rms = np.sqrt(np.mean(np.square(w, dtype=np.float64), axis=1, keepdims=True))
    gain = np.where(rms > 0, 10 ** (level_dbfs / 20) / np.maximum(rms, 1e-300), 1.0)
    return (w * gain).astype(np.float32)


def _to_16k(waves, sample_rate) -> np.ndarray:
    """Validate ``waves`` and bring them to 16 kHz float32 (soxr through librosa, as librosa.load)."""
    needs = f"musicnn needs at least one {N_FFT}-sample frame ({N_FFT / SAMPLE_RATE * 1000:.0f} ms)"
    return resample.clips_at(waves, sample_rate, SAMPLE_RATE, min_samples=N_FFT, needs=needs, dtype=np.float32)


# --------------------------------------------------------------------------- input pipeline


def _log_mel(wave16: np.ndarray) -> np.ndarray:
    """One 16-kHz float32 clip -> (frames, 96) float16 log-mel, musicnn's batch_data() arithmetic."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=wave16, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, pad_mode="constant"
    ).T
    with np.errstate(over="ignore"):  # float16 overflow: musicnn gets inf here, and NaN out of the network
        scaled = 10000 * mel.astype(np.float16)
    return np.log10(np.minimum(scaled, _MEL_MAX) + 1)  # float16 throughout, as musicnn


def _windows(wave16: np.ndarray, hop: int) -> np.ndarray:
    """(windows, 187, 96) float32 network inputs of one clip; a clip under 3 s is tiled to 3 s."""
    if _short(len(wave16)):
        wave16 = np.tile(wave16, -(-_WINDOW_SAMPLES // len(wave16)))[:_WINDOW_SAMPLES]
    rep = _log_mel(wave16)
    starts = range(0, len(rep) - WINDOW_FRAMES + 1, hop)
    return np.stack([rep[s : s + WINDOW_FRAMES] for s in starts]).astype(np.float32)


def _short(n16: int) -> bool:
    """Whether ``n16`` samples at 16 kHz give fewer (centred) mel frames than one window."""
    return 1 + n16 // HOP_LENGTH < WINDOW_FRAMES


# --------------------------------------------------------------------------- network


@functools.cache
def _forward(model: str):
    """A compiled forward pass of :func:`audiowgan.nn.musicnn_network.load` (one trace: the batch shape is fixed)."""
    import tensorflow as tf

    net = musicnn_network.load(model)
    spec = tf.TensorSpec((_BATCH_WINDOWS, WINDOW_FRAMES, N_MELS), tf.float32)
    return tf.function(lambda x: net(x, training=False), input_signature=[spec])


def _activations(waves16: np.ndarray, hop: int, model: str) -> dict[str, np.ndarray]:
    """Every output, (N, windows, D) each, of 16-kHz float32 clips: the three layers and the tags."""
    inputs = np.stack([_windows(w, hop) for w in waves16])  # (N, windows, 187, 96): clips are one length
    n_clips, n_win = inputs.shape[:2]
    flat = inputs.reshape(-1, WINDOW_FRAMES, N_MELS)
    forward = _forward(model)
    names = (*LAYERS, "tags")
    out = {name: [] for name in names}
    for start in range(0, len(flat), _BATCH_WINDOWS):
        chunk = flat[start : start + _BATCH_WINDOWS]
        batch = np.zeros((_BATCH_WINDOWS, WINDOW_FRAMES, N_MELS), np.float32)
        batch[: len(chunk)] = chunk
        for name, value in zip(names, forward(batch), strict=True):
            out[name].append(value.numpy()[: len(chunk)])
    return {name: np.concatenate(v).reshape(n_clips, n_win, -1) for name, v in out.items()}


# --------------------------------------------------------------------------- embedding


def n_windows(n_samples: int, *, sample_rate: int, hop_seconds: float = DEFAULT_HOP_SECONDS) -> int:
    """Windows per clip of ``n_samples`` at ``sample_rate`` (as :func:`embed` counts them).

    Parameters
    ----------
    n_samples : int
        Samples per clip.
    sample_rate : int
        Their rate in Hz.
    hop_seconds : float
        Distance between window starts.

    Returns
    -------
    int >= 1
        ``1 + (frames - 187) // hop``, where ``frames = 1 + n16 // 256`` for the clip's length
        ``n16`` at 16 kHz and ``hop`` is ``hop_seconds`` in mel frames; 1 for a clip under 3 s
        (tiled to one window).
    """
    n_samples = positive_int("n_samples", n_samples)
    sample_rate = positive_int("sample_rate", sample_rate)
    hop = _hop_frames(hop_seconds)
    n16 = int(np.ceil(n_samples * SAMPLE_RATE / sample_rate))  # soxr's output length
    return 1 if _short(n16) else 1 + (1 + n16 // HOP_LENGTH - WINDOW_FRAMES) // hop


def _outputs(waves, sample_rate, hop_seconds, model, level_dbfs) -> dict[str, np.ndarray]:
    model, level_dbfs = _check_model(model), _check_level(level_dbfs)
    hop = _hop_frames(hop_seconds)
    return _activations(_at_level(_to_16k(waves, sample_rate), level_dbfs), hop, model)


def embed(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: str = DEFAULT_MODEL,
    layer: str = DEFAULT_LAYER,
    level_dbfs: float | None = DEFAULT_LEVEL_DBFS,
) -> np.ndarray:
    """musicnn embeddings of every 3-s window of each clip.

    Clips are resampled to 16 kHz (soxr, high quality), turned into musicnn's log-mel
    spectrogram, cut into 187-frame (3-s) windows every ``hop_seconds`` (whole windows only; a
    clip under 3 s is tiled to 3 s first), and ``layer`` is read out. Deterministic: the same
    input gives the same bits (on one machine and set of versions), and a clip's embedding does
    not depend on the other clips in ``waves``.

    The level matters: musicnn does not normalise its input, and 6 dB louder moves a clip's
    embedding half as far as the distance between two pieces of the demo music. So each clip is
    scaled to ``level_dbfs`` RMS first (after resampling, before the mel), and sets recorded
    or rendered at different levels are compared on what they play, not how loud.

    Parameters
    ----------
    waves : np.ndarray [shape=(N, samples) or (samples,)]
        Mono audio in [-1, 1], any real type, finite; at least 512 samples once at 16 kHz.
    sample_rate : int > 0
        The rate of ``waves`` in Hz.
    hop_seconds : float >= 0.032
        Distance between window starts, turned into mel frames as musicnn's extractor does
        (``(int(hop_seconds * 16000) - 256) // 256``: 1.0 s -> 61 frames).
    model : {"MSD_musicnn", "MTT_musicnn"}
        Which checkpoint of the wheel: Million Song Dataset or MagnaTagATune tags.
    layer : {"penultimate", "mean_pool", "max_pool"}
        The 200-unit layer under the tags, or the 753 mid-end features averaged or maxed over
        the window.
    level_dbfs : float in [-120, 0] or None
        The RMS level every clip is brought to (-20: generate's default ``target_dbfs``); None
        keeps the given level, as musicnn's own extractor does. Digital silence stays silent.

    Returns
    -------
    np.ndarray [shape=(N, windows, D)], float32
        ``windows`` as :func:`n_windows`; ``D = LAYERS[layer]``.

    Raises
    ------
    ValueError
        For a bad argument, named with its value.
    ModuleNotFoundError
        When the ``musicnn`` wheel is not installed.
    """
    layer = _check_layer(layer)
    return _outputs(waves, sample_rate, hop_seconds, model, level_dbfs)[layer]


def tags(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: str = DEFAULT_MODEL,
    level_dbfs: float | None = DEFAULT_LEVEL_DBFS,
) -> np.ndarray:
    """musicnn's tag probabilities (its taggram) of every window, in the order of :func:`labels`.

    Parameters
    ----------
    waves, sample_rate, hop_seconds, model, level_dbfs
        As :func:`embed`.

    Returns
    -------
    np.ndarray [shape=(N, windows, 50)], float32 in [0, 1]
    """
    return _outputs(waves, sample_rate, hop_seconds, model, level_dbfs)["tags"]


def labels(model: str = DEFAULT_MODEL) -> list[str]:
    """The 50 tag names of ``model``, from the wheel (imports neither TensorFlow nor the network)."""
    model = _check_model(model)
    checkpoint_prefix(model)  # a clear message when the wheel is missing
    from musicnn import configuration

    return list(configuration.MSD_LABELS if model.startswith("MSD") else configuration.MTT_LABELS)


def clip_embeddings(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: str = DEFAULT_MODEL,
    layer: str = DEFAULT_LAYER,
    level_dbfs: float | None = DEFAULT_LEVEL_DBFS,
) -> np.ndarray:
    """The windows of all clips as one sample set, for the Frechet or kernel distance.

    Parameters
    ----------
    waves, sample_rate, hop_seconds, model, layer, level_dbfs
        As :func:`embed`.

    Returns
    -------
    np.ndarray [shape=(N * windows, D)], float64
        One row per window, clip after clip: ready for :func:`audiowgan.look.distances.frechet_distance`
        and :func:`kernel_distance`.
    """
    e = embed(waves, sample_rate=sample_rate, hop_seconds=hop_seconds, model=model, layer=layer, level_dbfs=level_dbfs)
    return e.reshape(-1, e.shape[-1]).astype(np.float64)


def describe(
    *,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: str = DEFAULT_MODEL,
    layer: str = DEFAULT_LAYER,
    level_dbfs: float | None = DEFAULT_LEVEL_DBFS,
) -> dict:
    """What an embedding setting is, with the versions that produce it (for metrics.json).

    Imports neither TensorFlow nor the network: versions come from package metadata.

    Parameters
    ----------
    hop_seconds, model, layer, level_dbfs
        As :func:`embed`.

    Returns
    -------
    dict
        JSON-ready: name, network, model, layer, dimension, sample rate, window and hop in frames
        and seconds, the level clips are brought to, the mel settings, how short clips are handled,
        the weights package and the versions of it, TensorFlow, Keras, librosa, soxr and numpy
        (None when one is absent).
    """
    model, layer, level_dbfs = _check_model(model), _check_layer(layer), _check_level(level_dbfs)
    hop = _hop_frames(hop_seconds)
    versions = {}
    for package in (WEIGHTS_PACKAGE, "tensorflow-cpu", "tensorflow", "keras", "librosa", "soxr", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    if versions["tensorflow-cpu"] is None or versions["tensorflow"] is None:  # keep the one installed
        versions.pop("tensorflow-cpu" if versions["tensorflow-cpu"] is None else "tensorflow")
    return {
        **_embedding(model, layer),
        "hop_frames": hop,
        "hop_seconds": hop * HOP_LENGTH / SAMPLE_RATE,
        "level_dbfs": level_dbfs,
        "resampling": "librosa.resample, res_type='soxr_hq'",
        "versions": versions,
    }
