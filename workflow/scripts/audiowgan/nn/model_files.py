"""A trained model's files: its ``model.json`` and the generator's weights, read back into a generator."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import keras

from audiowgan.core.names import WEIGHTS
from audiowgan.core.settings import ModelSpec
from audiowgan.nn.model import build_networks


def read_model_json(model_dir: str | Path) -> tuple[ModelSpec, tuple[int, int], dict]:
    """The settings, mel shape and whole record of a trained model's ``model.json``."""
    record = json.loads((Path(model_dir) / "model.json").read_text())
    return ModelSpec.from_meta(record), (int(record["input_shape"][0]), int(record["input_shape"][1])), record


def load_generator_weights(generator: keras.Model, path: str | Path, spec: ModelSpec, shape: tuple[int, int]) -> None:
    """Load a generator's weights file into ``generator`` (built from ``spec`` for mels of ``shape``), also one
    written before :class:`~audiowgan.nn.layers.ResizeConv2D` and :class:`~audiowgan.nn.layers.ResizeConv1D`:
    Keras files name each layer by its class, so those hold the same weights, in the same order, under UpSampling
    and Conv; they go through the unfolded twin."""
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
