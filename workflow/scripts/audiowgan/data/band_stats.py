"""Per-band mean and standard deviation of the training mels (``model.critic_band_norm``).

Read in chunks from the file (:func:`~audiowgan.data.rows.read_rows`), never loaded whole, over at
most ``MAX_ROWS`` training segments spread evenly across the split (the statistics of a few thousand
segments are those of all of them to a few thousandths), in float64. Only the training rows: held-out
music must not shape the model.
"""

from __future__ import annotations

import numpy as np

from audiowgan.data.rows import read_rows

MAX_ROWS = 4096
CHUNK = 256
# A band steadier than this (in [-1, 1] mel units: 0.05 is 2 dB at top_db 80) is not scaled up further:
# standardising a band that never changes would blow its rounding noise up to unit size.
MIN_STD = 0.05


def band_stats(mels: np.ndarray, rows: np.ndarray, *, max_rows: int = MAX_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of each band (n_mels,) over the frames of ``mels[rows]``; std at least ``MIN_STD``."""
    rows = np.sort(np.asarray(rows))
    if len(rows) == 0:
        raise ValueError("no training segments to take band statistics from")
    if len(rows) > max_rows:
        rows = rows[np.linspace(0, len(rows) - 1, max_rows).round().astype(int)]
    n_mels = mels.shape[1]
    total, squares = np.zeros(n_mels), np.zeros(n_mels)
    for start in range(0, len(rows), CHUNK):
        chunk = read_rows(mels, rows[start : start + CHUNK]).astype(np.float64)  # (b, n_mels, frames)
        total += chunk.sum(axis=(0, 2))
        squares += np.square(chunk).sum(axis=(0, 2))
    count = len(rows) * mels.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
    return mean, np.maximum(std, MIN_STD)
