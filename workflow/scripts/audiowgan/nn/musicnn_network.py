"""musicnn's network with its pretrained weights (the Keras 3 rebuild behind :mod:`audiowgan.nn.musicnn`).

:func:`network` builds the graph of musicnn 0.1.0's ``models.build_musicnn`` (96 mel bands, 64
mid-end filters, 200 back-end units) with Keras 3, and :func:`load` reads the variables of the
wheel's TF1 checkpoint into it, checking every shape and that every stored variable found a
place. Importing this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import functools
import importlib.metadata

import numpy as np

N_MELS = 96
WINDOW_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn
MODELS = ("MSD_musicnn", "MTT_musicnn")  # checkpoint folders in the wheel; same network, other tags
LAYERS = {"penultimate": 200, "mean_pool": 753, "max_pool": 753}  # embedding layer: dimension
TAG_COUNT = 50
WEIGHTS_PACKAGE = "musicnn"

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


def checkpoint_prefix(model: str) -> str:
    """The checkpoint prefix (``.../musicnn/MSD_musicnn/``: its files are ``.index`` and ``.data-*``)."""
    try:
        dist = importlib.metadata.distribution(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            "the musicnn weights are not installed: pip install --no-deps musicnn==0.1.0 "
            "(see requirements-no-deps.txt; its metadata pins numpy<1.17, hence --no-deps)"
        ) from None
    folder = dist.locate_file(f"musicnn/{model}")
    if not (folder / ".index").is_file():
        raise FileNotFoundError(f"musicnn {dist.version} is installed but {folder}/.index is missing; reinstall it")
    return f"{folder}/"


def network(model: str):
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
    logits = layers.Dense(TAG_COUNT, name="tags_dense")(penultimate)
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
def load(model: str):
    """The musicnn network of ``model`` with its pretrained weights; built once per process and model."""
    import tensorflow as tf

    prefix = checkpoint_prefix(model)
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    stored = {n.split("/")[0] for n in reader.get_variable_to_shape_map() if "Adam" not in n and "_power" not in n}
    net = network(model)
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
