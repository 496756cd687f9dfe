"""Training input: a deterministic batch order per epoch, batch reads from the packed memmap, tf.data.

The order of an epoch is a function of (seed, epoch) only, so a resumed run reads the same batches
as an uninterrupted one; held-out rows are never read (they are for evaluation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from audiowgan.data import pack
from audiowgan.data.rows import read_rows


def batch_order(n: int, batch_size: int, *, seed: int, epoch: int) -> np.ndarray:
    """(n // batch_size, batch_size) row indices of one epoch, a function of (seed, epoch) only."""
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    steps = n // batch_size
    return perm[: steps * batch_size].reshape(steps, batch_size)


def read_batch(mels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """mels[rows] as (B, n_mels, frames, 1) float32, read from the file, not the mapping (:func:`read_rows`)."""
    return read_rows(mels, rows)[..., None]


def epoch_dataset(mels: np.ndarray, order: np.ndarray, start: int = 0) -> tf.data.Dataset:
    """Batches ``order[start:]`` of one epoch, read from the memmap on a tf.data thread, prefetched.

    Each batch's row numbers go through ``tf.numpy_function``, not ``Dataset.from_generator``: TensorFlow's
    generator dataset sets glibc's M_TRIM_THRESHOLD for the whole process ("Memory patch applied"), which turns
    off malloc's adaptive mmap threshold, so every step after it maps and unmaps its large tensors afresh; the
    demo's float32 step took twice as long (docs/training.md).
    """
    shape = (order.shape[1], *mels.shape[1:], 1)

    def read(rows: np.ndarray) -> np.ndarray:
        return read_batch(mels, rows)

    rows = tf.data.Dataset.from_tensor_slices(order[start:])
    ds = rows.map(lambda r: tf.ensure_shape(tf.numpy_function(read, [r], tf.float32), shape))
    # No autotuning: its thread sleeps up to 5.12 s between rounds, and the next epoch's iterator waited for it
    # (the demo's epochs of 7 steps took 5.12 s where their steps took 3.2). A fixed prefetch needs no tuning.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


@dataclass
class TrainingData:
    """The packed dataset as training sees it: the memory-mapped mels and the train split's rows."""

    directory: Path
    mels: np.ndarray  # (N, n_mels, frames) float32 memmap, never loaded whole
    meta: dict
    index_bytes: bytes  # index.csv as written, for the fingerprint
    rows: np.ndarray  # train-split row numbers; held-out rows are for evaluation only
    batch_size: int

    @classmethod
    def open(cls, directory: str | Path, *, batch_size: int) -> TrainingData:
        directory = Path(directory)
        mels = np.load(directory / "mels.npy", mmap_mode="r")
        if mels.ndim != 3:
            raise ValueError(f"{directory / 'mels.npy'} has shape {mels.shape}, expected (N, n_mels, frames)")
        rows = pack.split_rows(directory, "train")
        if len(rows) < batch_size:
            raise ValueError(
                f"train.batch_size={batch_size} is larger than the training split (N={len(rows)} "
                "segments): lower train.batch_size or add audio"
            )
        meta = json.loads((directory / "meta.json").read_text())
        return cls(directory, mels, meta, (directory / "index.csv").read_bytes(), rows, batch_size)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.mels.shape[1]), int(self.mels.shape[2])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.rows) // self.batch_size

    def epoch(self, epoch: int, *, seed: int, start: int = 0) -> tf.data.Dataset:
        """The batches of ``epoch`` from its ``start``-th on (a resumed epoch skips the done ones)."""
        order = self.rows[batch_order(len(self.rows), self.batch_size, seed=seed, epoch=epoch)]
        return epoch_dataset(self.mels, order, start)
