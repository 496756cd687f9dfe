"""musicnn window embeddings: a music-tagging network's view of audio, for music-level distances.

CREPE (:mod:`audiowgan.nn.crepe`) sees pitch and timbre of 64-ms frames. musicnn (Pons and Serra,
"musicnn: pre-trained convolutional neural networks for music audio tagging", ISMIR 2019 LBD) was
trained to tag 3-s windows of songs with genre, instrument, mood and era tags, so it sees
seconds: rhythm, texture, instrumentation. Its weights ship inside the ``musicnn`` 0.1.0 wheel
(ISC licence; TF1 checkpoints) and nothing is downloaded at run time. The wheel's own code needs
TF1 graph mode and numpy < 1.17; only its checkpoint files and tag lists are used here.

The network is rebuilt with Keras 3 and its variables are read from the checkpoint with
``tf.compat.v1.train.NewCheckpointReader`` (the checkpoint's index file names a path on its
author's machine, so ``tf.train.load_checkpoint`` of the folder cannot find it). It was checked
against the original code run under TF 2.21 + tf-keras (``scripts/musicnn_reference.py``):
embeddings and tag probabilities agree to float round-off (``tests/test_musicnn.py``).

Choices, and why:

- **Model** ``MSD_musicnn``: trained on the Million Song Dataset's 50 most frequent last.fm tags
  (rock, electronic, jazz, female vocalists, 80s, chillout...), a broader and larger set of
  commercial music than MagnaTagATune's (``MTT_musicnn``, also available). The VGG baselines
  of the wheel are left out.
- **Layer** ``penultimate``: the 200 units (dense, ReLU, batch normalisation) from which the 50
  tags are read linearly. It is what musicnn's authors and Essentia's model zoo offer as the
  model's embedding for transfer learning (genre, mood, instrument classifiers), and with 200
  dimensions it needs fewer windows for a full-rank covariance than ``mean_pool`` or
  ``max_pool`` (753 each: the front- and mid-end features pooled over the window; also
  available). Many of its units are zero-free only after the batch normalisation shifts them:
  it is a tag-shaped space, not a generic one.
- **Windows** of 187 mel frames (3 s, as trained), one every ``hop_seconds`` (1 s by default:
  a 5-s clip gives three windows covering 4.95 s); seconds are turned into frames as musicnn's
  own extractor does, so ``embed(hop_seconds=h)`` equals ``extractor(input_overlap=h)``.
- **Short clips** (under 3 s, as in the workflow's 1-2 s test configs) are played on repeat: the
  audio is tiled to 3 s and gives one window. musicnn was trained with "repeat-pad" for short
  inputs (its config.json), though its 29-30 s training clips rarely needed it; a 1-s clip tiled
  three times is a loop the network never heard, so compare such embeddings only with each other.
- **Input pipeline** exactly musicnn's: 16 kHz (soxr, as ``librosa.load``), librosa mel power
  spectrogram (n_fft 512, hop 256, 96 Slaney mel bands, centred frames with zero padding, as
  librosa 0.11 runs musicnn's call), cast to float16, ``log10(10000 x + 1)`` in float16. One
  deviation: musicnn's float16 arithmetic overflows to inf where a mel band's power exceeds
  6.55 (a loud bass note; 0.3% of the bins of the demo music at -20 dBFS), and the original then
  returns NaN for the whole window; here such values are held at float16's largest (65504).
  The level of the audio matters (there is no normalisation): see :func:`embed`.
"""

from __future__ import annotations

import functools
import importlib.metadata
from numbers import Real

import numpy as np

from audiowgan.core.check import positive_int

__all__ = [
    "DEFAULT_HOP_SECONDS",
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
N_MELS = 96
WINDOW_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn
_WINDOW_SAMPLES = 3 * SAMPLE_RATE  # a short clip is tiled to this length: 1 + 48000 // 256 = 188 frames
_MEL_MAX = np.finfo(np.float16).max  # 65504: where musicnn's float16 10000 * x overflows to inf

MODELS = ("MSD_musicnn", "MTT_musicnn")  # checkpoint folders in the wheel; same network, other tags
DEFAULT_MODEL = "MSD_musicnn"
LAYERS = {"penultimate": 200, "mean_pool": 753, "max_pool": 753}  # embedding layer: dimension
DEFAULT_LAYER = "penultimate"
DEFAULT_HOP_SECONDS = 1.0
_BATCH_WINDOWS = 8  # windows per forward pass; fixed so a window's result never depends on its batch
_WEIGHTS_PACKAGE = "musicnn"
_TAG_COUNT = 50

# (Keras layer, checkpoint scope) in the order musicnn's graph creates them: TF1 numbers its
# variables conv2d, conv2d_1, ... and batch_normalization, batch_normalization_1, ... by creation.
_CONVOLUTIONS = {  # name: (filters, kernel (time, mel) or time for the mid-end's 1-D convolutions)
    "timbral_7x38": (204, (7, 38)),  # int(1.6 * 128) filters, kernel 0.4 of the 96 mel bands
    "timbral_7x67": (204, (7, 67)),  # 0.7 of the bands
    "temporal_128": (51, (128, 1)),  # int(1.6 * 32) filters over 128 frames (2 s) of each band
    "temporal_64": (51, (64, 1)),
    "temporal_32": (51, (32, 1)),
    "midend_1": (64, 7),
    "midend_2": (64, 7),
    "midend_3": (64, 7),
}
_SCOPES = {
    "input_bn": "batch_normalization",
    **{name: f"conv2d_{i}" if i else "conv2d" for i, name in enumerate(_CONVOLUTIONS)},
    **{f"{name}_bn": f"batch_normalization_{i + 1}" for i, name in enumerate(_CONVOLUTIONS)},
    "pool_bn": "batch_normalization_9",
    "penultimate_dense": "dense",
    "penultimate": "batch_normalization_10",
    "tags_dense": "dense_1",
}


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
        "mel": {"n_fft": N_FFT, "hop_length": HOP_LENGTH, "n_mels": N_MELS, "compression": "log10(10000 x + 1), float16"},
        "short_clips": "tiled to 3 s (one window)",
        "weights_package": _WEIGHTS_PACKAGE,
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


def _to_16k(waves, sample_rate) -> np.ndarray:
    """Validate ``waves`` and bring them to 16 kHz float32 (soxr through librosa, as librosa.load)."""
    sample_rate = positive_int("sample_rate", sample_rate)
    w = np.asarray(waves)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2 or w.shape[0] == 0:
        raise ValueError(f"waves.shape={np.shape(waves)} must be (N, samples) or (samples,) with N >= 1")
    if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)) or w.dtype == bool:
        raise ValueError(f"waves.dtype={w.dtype} must be a real number type")
    w = w.astype(np.float32)
    if not np.all(np.isfinite(w)):
        raise ValueError("waves must be finite")
    if sample_rate != SAMPLE_RATE:
        import librosa

        w = librosa.resample(w, orig_sr=sample_rate, target_sr=SAMPLE_RATE, res_type="soxr_hq", axis=-1)
    if w.shape[1] < N_FFT:
        raise ValueError(
            f"waves have {np.shape(waves)[-1]} samples at {sample_rate} Hz = {w.shape[1]} at {SAMPLE_RATE} Hz; "
            f"musicnn needs at least one {N_FFT}-sample frame ({N_FFT / SAMPLE_RATE * 1000:.0f} ms)"
        )
    return w


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


def _checkpoint_prefix(model: str) -> str:
    """The checkpoint prefix (``.../musicnn/MSD_musicnn/``: its files are ``.index`` and ``.data-*``)."""
    try:
        dist = importlib.metadata.distribution(_WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            "the musicnn weights are not installed: pip install --no-deps musicnn==0.1.0 "
            "(see requirements-no-deps.txt; its metadata pins numpy<1.17, hence --no-deps)"
        ) from None
    folder = dist.locate_file(f"musicnn/{model}")
    if not (folder / ".index").is_file():
        raise FileNotFoundError(f"musicnn {dist.version} is installed but {folder}/.index is missing; reinstall it")
    return f"{folder}/"


def _network(model: str):
    """musicnn's graph (models.build_musicnn with 96 mels, 64 mid-end filters, 200 back-end units)
    as a Keras model from (batch, 187, 96) log-mel windows to [penultimate, mean_pool, max_pool, tags]."""
    import keras
    from keras import layers

    def bn(name):  # tf.compat.v1.layers.batch_normalization: epsilon 1e-3, Keras's default too
        return layers.BatchNormalization(epsilon=1e-3, name=name)

    def conv(name, padding="valid"):
        filters, kernel = _CONVOLUTIONS[name]
        cls = layers.Conv2D if isinstance(kernel, tuple) else layers.Conv1D
        return cls(filters, kernel, padding=padding, activation="relu", name=name)

    def over_bands(x, name):  # max over the mel axis: (T, bands, C) -> (T, C)
        x = layers.MaxPooling2D((1, x.shape[2]), name=f"{name}_pool")(x)
        return layers.Reshape((WINDOW_FRAMES, x.shape[-1]), name=f"{name}_squeeze")(x)

    inputs = keras.Input((WINDOW_FRAMES, N_MELS), name="log_mel")
    x = bn("input_bn")(layers.Reshape((WINDOW_FRAMES, N_MELS, 1), name="expand")(inputs))
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)), name="time_pad")(x)  # 'same' in time only
    front = [over_bands(bn(f"{n}_bn")(conv(n)(padded)), n) for n in ("timbral_7x38", "timbral_7x67")]
    front += [over_bands(bn(f"{n}_bn")(conv(n, "same")(x)), n) for n in ("temporal_128", "temporal_64", "temporal_32")]
    front = layers.Concatenate(name="frontend")(front)  # (T, 561)
    # Mid-end: three 7-frame convolutions across all channels (TF1 wrote them as Conv2D over the whole
    # channel axis plus transposes: the same sums), the second and third with residual connections.
    mid = [bn("midend_1_bn")(conv("midend_1")(layers.ZeroPadding1D(3)(front)))]
    for n in ("midend_2", "midend_3"):
        mid.append(layers.Add(name=f"{n}_res")([bn(f"{n}_bn")(conv(n)(layers.ZeroPadding1D(3)(mid[-1]))), mid[-1]]))
    features = layers.Concatenate(name="midend")([front, *mid])  # (T, 753)
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(features)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(features)
    # musicnn concatenates (753, 1) max and mean maps on the last axis before flattening: interleaved.
    pair = [layers.Reshape((LAYERS["max_pool"], 1))(p) for p in (max_pool, mean_pool)]
    pooled = bn("pool_bn")(layers.Flatten()(layers.Concatenate()(pair)))  # (1506,); dropout: identity here
    dense = layers.Dense(LAYERS["penultimate"], activation="relu", name="penultimate_dense")(pooled)
    penultimate = bn("penultimate")(dense)
    logits = layers.Dense(_TAG_COUNT, name="tags_dense")(penultimate)
    tag_probs = layers.Activation("sigmoid", name="tags")(logits)
    return keras.Model(inputs, [penultimate, mean_pool, max_pool, tag_probs], name=model)


def _layer_arrays(reader, layer) -> list[np.ndarray]:
    """The checkpoint's arrays for one Keras layer, in the order of ``layer.weights``."""
    scope = _SCOPES[layer.name]
    kind = type(layer).__name__
    names = ("gamma", "beta", "moving_mean", "moving_variance") if kind == "BatchNormalization" else ("kernel", "bias")
    arrays = [reader.get_tensor(f"{scope}/{n}") for n in names]
    if kind == "Conv1D":  # TF1 kernel (7, C, 1, 64) -> Conv1D (7, C, 64)
        arrays[0] = arrays[0][:, :, 0, :]
    return arrays


@functools.cache
def _musicnn(model: str):
    """The musicnn network of ``model`` with its pretrained weights; built once per process and model."""
    import tensorflow as tf

    prefix = _checkpoint_prefix(_check_model(model))
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    stored = {n.split("/")[0] for n in reader.get_variable_to_shape_map() if "Adam" not in n and "_power" not in n}
    net = _network(model)
    loaded = set()
    for layer in net.layers:
        if not layer.weights:
            continue
        values = _layer_arrays(reader, layer)
        want = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != want:
            raise ValueError(
                f"{prefix}: {_SCOPES[layer.name]} stores {[v.shape for v in values]}, layer {layer.name} needs {want}"
            )
        layer.set_weights(values)
        loaded.add(_SCOPES[layer.name])
    if stored != loaded:
        raise ValueError(f"{prefix}: variables of {sorted(stored - loaded)} have no place in the network")
    return net


@functools.cache
def _forward(model: str):
    """A compiled forward pass of :func:`_musicnn` (one trace: the batch shape is fixed)."""
    import tensorflow as tf

    net = _musicnn(model)
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


def _outputs(waves, sample_rate, hop_seconds, model) -> dict[str, np.ndarray]:
    model = _check_model(model)
    hop = _hop_frames(hop_seconds)
    return _activations(_to_16k(waves, sample_rate), hop, model)


def embed(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: str = DEFAULT_MODEL,
    layer: str = DEFAULT_LAYER,
) -> np.ndarray:
    """musicnn embeddings of every 3-s window of each clip.

    Clips are resampled to 16 kHz (soxr, high quality), turned into musicnn's log-mel
    spectrogram, cut into 187-frame (3-s) windows every ``hop_seconds`` (whole windows only; a
    clip under 3 s is tiled to 3 s first), and ``layer`` is read out. Deterministic: the same
    input gives the same bits (on one machine and set of versions), and a clip's embedding does
    not depend on the other clips in ``waves``.

    The level matters: musicnn does not normalise its input, it was trained on commercial
    recordings at their mastered level, and halving the amplitude moves the embedding. Bring
    sets that are compared to a like loudness first (generated clips are normalised to
    ``generate.target_dbfs``).

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
    return _outputs(waves, sample_rate, hop_seconds, model)[layer]


def tags(
    waves: np.ndarray, *, sample_rate: int, hop_seconds: float = DEFAULT_HOP_SECONDS, model: str = DEFAULT_MODEL
) -> np.ndarray:
    """musicnn's tag probabilities (its taggram) of every window, in the order of :func:`labels`.

    Parameters
    ----------
    waves, sample_rate, hop_seconds, model
        As :func:`embed`.

    Returns
    -------
    np.ndarray [shape=(N, windows, 50)], float32 in [0, 1]
    """
    return _outputs(waves, sample_rate, hop_seconds, model)["tags"]


def labels(model: str = DEFAULT_MODEL) -> list[str]:
    """The 50 tag names of ``model``, from the wheel (imports neither TensorFlow nor the network)."""
    model = _check_model(model)
    _checkpoint_prefix(model)  # a clear message when the wheel is missing
    from musicnn import configuration

    return list(configuration.MSD_LABELS if model.startswith("MSD") else configuration.MTT_LABELS)


def clip_embeddings(
    waves: np.ndarray,
    *,
    sample_rate: int,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: str = DEFAULT_MODEL,
    layer: str = DEFAULT_LAYER,
) -> np.ndarray:
    """The windows of all clips as one sample set, for the Frechet or kernel distance.

    Parameters
    ----------
    waves, sample_rate, hop_seconds, model, layer
        As :func:`embed`.

    Returns
    -------
    np.ndarray [shape=(N * windows, D)], float64
        One row per window, clip after clip: ready for :func:`audiowgan.look.distances.frechet_distance`
        and :func:`kernel_distance`.
    """
    e = embed(waves, sample_rate=sample_rate, hop_seconds=hop_seconds, model=model, layer=layer)
    return e.reshape(-1, e.shape[-1]).astype(np.float64)


def describe(
    *, hop_seconds: float = DEFAULT_HOP_SECONDS, model: str = DEFAULT_MODEL, layer: str = DEFAULT_LAYER
) -> dict:
    """What an embedding setting is, with the versions that produce it (for metrics.json).

    Imports neither TensorFlow nor the network: versions come from package metadata.

    Parameters
    ----------
    hop_seconds, model, layer
        As :func:`embed`.

    Returns
    -------
    dict
        JSON-ready: name, network, model, layer, dimension, sample rate, window and hop in frames
        and seconds, the mel settings, how short clips are handled, the weights package and the
        versions of it, TensorFlow, Keras, librosa, soxr and numpy (None when one is absent).
    """
    model, layer = _check_model(model), _check_layer(layer)
    hop = _hop_frames(hop_seconds)
    versions = {}
    for package in (_WEIGHTS_PACKAGE, "tensorflow-cpu", "tensorflow", "keras", "librosa", "soxr", "numpy"):
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
        "resampling": "librosa.resample, res_type='soxr_hq'",
        "versions": versions,
    }
