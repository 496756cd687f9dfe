"""The pretrained embedding networks that evaluation compares audio in: a small table, one entry each.

Every entry is a module of :mod:`audiowgan.nn` with the same public API as :mod:`audiowgan.nn.crepe`:
``SAMPLE_RATE``, ``EMBEDDING``, ``embed(waves, sample_rate=) -> (N, frames, D)``,
``clip_embeddings(waves, sample_rate=) -> (N * frames, D)`` and ``describe() -> dict``. The distances
(:mod:`audiowgan.look.evaluate`) pool frames; the copy check (:mod:`audiowgan.look.nearest`) uses one
vector per clip, the mean of its frame embeddings (:func:`clip_vectors`). Modules are imported only
when an embedding is asked for: they load TensorFlow (seconds).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def _crepe() -> ModuleType:
    from audiowgan.nn import crepe  # TensorFlow: only when embedding

    return crepe


def _musicnn() -> ModuleType:
    from audiowgan.nn import musicnn  # TensorFlow: only when embedding

    return musicnn


# name: loader of its module, in the order of metrics.json and the report (the copy check's primary
# space is chosen by nearest.PRIMARY, not by this order).
EMBEDDERS = {
    "crepe": _crepe,  # CREPE tiny: 64-ms frames of a pitch network (pitch, harmonicity, timbre)
    "musicnn": _musicnn,  # musicnn: 3-s windows of a music-tagging network (the copy check's primary space)
}


def names() -> list[str]:
    """The embedders evaluation uses, in table order."""
    return list(EMBEDDERS)


def module(name: str) -> ModuleType:
    """The embedding module ``name`` (imports it, and with it TensorFlow)."""
    if name not in EMBEDDERS:
        raise ValueError(f"embedder={name!r} must be one of {names()}")
    return EMBEDDERS[name]()


def clip_vectors(name: str, waves: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """(N, D) float64: each clip's frame embeddings averaged over its frames, one vector per clip."""
    return module(name).embed(waves, sample_rate=sample_rate).mean(axis=1).astype(np.float64)
