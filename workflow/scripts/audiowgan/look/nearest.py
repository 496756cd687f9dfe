"""The copy check (rule ``nearest``): how close each generated clip comes to its nearest training segment.

For every clip, and every segment of every long piece, the nearest training segment is found in each
space of :data:`SPACES` and its distance is set against the same measure for real music the model never
heard: the held-out segments' own distances to the training set. ``reference`` is the ``quantile`` of
those (0, the default: the closest any held-out segment comes), ``ratio = distance / reference`` and
``copy`` is true when ``ratio < 1``: the clip is closer to a training segment than new real music of the
same corpus comes. A clip that memorised a segment scores a ratio near 0.

Spaces and distances:

- ``mel``: the whole [-1, 1] mel spectrogram (n_mels x frames, as trained on), root-mean-square difference
  (Euclidean distance over sqrt(n_mels * frames)). It is time-aligned: it finds a segment reproduced in
  place, which is what a generator of whole segments copies; a copy shifted by a fraction of a hop is
  found only at a larger distance.
- each embedder of :data:`audiowgan.look.embedders.EMBEDDERS`: the mean of the clip's frame embeddings,
  cosine distance (1 - cosine similarity; unitless, level-free, in [0, 2]).

Candidates are every ``train`` row of the dataset, overlapping ones included (``audio.segment_overlap``
above 0 gives segments at every hop: a copy of audio at any hop offset is found); the
``boundary`` rows, which share audio with held-out ones, are candidates for nothing. The reference set is
the distinct held-out rows (no two share audio), as in :mod:`audiowgan.look.evaluate`: overlapping
held-out rows would be near-duplicates, more tries at a small minimum, not more music.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from audiowgan.core import atomic
from audiowgan.core.settings import AudioSpec
from audiowgan.data import pack as dataset
from audiowgan.dsp import audio
from audiowgan.dsp import mel as features
from audiowgan.look import embedders
from audiowgan.look.evaluate import segment_waves

COLUMNS = ["clip", "part", "start_seconds", "space", "primary", "track", "segment", "distance", "reference",
           "ratio", "copy"]  # fmt: skip
# The space the report's flags and summary use: the first of these that was computed. A music-level
# embedding sees what a listener calls the same music; without one, the time-aligned mel is the most literal.
PRIMARY = ("musicnn", "mel", "crepe")
# Relative round-off allowed at ratio 1: a held-out segment checked as a clip is its own reference, and an
# embedding computed in another batch may differ from it in the last bits.
ROUND_OFF = 1e-6
_BATCH = 64  # segments embedded at a time: memory O(batch), not O(training set)


# --------------------------------------------------------------------------- distances and the reference


def nearest(queries: np.ndarray, candidates: np.ndarray, *, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Index of each query's nearest candidate and the distance to it.

    Parameters
    ----------
    queries : np.ndarray [shape=(Q, D)]
    candidates : np.ndarray [shape=(T, D)], T >= 1
    metric : {"rms", "cosine"}
        ``rms``: Euclidean distance over sqrt(D); ``cosine``: 1 - cosine similarity (an all-zero vector is
        at distance 1 from everything).

    Returns
    -------
    index : np.ndarray [shape=(Q,)], int64
    distance : np.ndarray [shape=(Q,)], float64 >= 0
    """
    q, c = np.asarray(queries, np.float64), np.asarray(candidates, np.float64)
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1] or len(c) == 0:
        raise ValueError(f"queries.shape={q.shape} and candidates.shape={c.shape} must be (Q, D) and (T >= 1, D)")
    if metric == "rms":
        sq = np.einsum("ij,ij->i", q, q)[:, None] + np.einsum("ij,ij->i", c, c)[None] - 2.0 * q @ c.T
        d = np.sqrt(np.maximum(sq, 0.0) / q.shape[1])
    elif metric == "cosine":
        unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
        d = np.maximum(1.0 - unit(q) @ unit(c).T, 0.0)
    else:
        raise ValueError(f"metric={metric!r} must be 'rms' or 'cosine'")
    index = d.argmin(axis=1)
    return index, d[np.arange(len(q)), index]


def reference(heldout_distances: np.ndarray, quantile: float = 0.0) -> float:
    """The ``quantile`` of the held-out segments' nearest-training distances (0: their minimum); NaN if none."""
    if not 0 <= quantile <= 0.5:
        raise ValueError(f"quantile={quantile!r} must be in [0, 0.5]")
    d = np.asarray(heldout_distances, np.float64)
    return float(np.quantile(d, quantile)) if d.size else float("nan")


def ratios(distances: np.ndarray, ref: float) -> tuple[np.ndarray, np.ndarray]:
    """``(ratio, copy)``: distance / reference, and ratio < 1 (within :data:`ROUND_OFF`).

    A reference of 0 (a held-out segment identical to a training one: duplicated audio in the corpus)
    leaves nothing closer: ratios are infinite (0/0 is 1) and nothing is a copy; NaN (no held-out
    segment) gives NaN ratios and no copy.
    """
    d = np.asarray(distances, np.float64)
    if np.isnan(ref):
        r = np.full(d.shape, np.nan)
    elif ref == 0:
        r = np.where(d == 0, 1.0, np.inf)
    else:
        r = d / ref
    return r, r < 1.0 - ROUND_OFF


# --------------------------------------------------------------------------- the clips and pieces to check


def piece_parts(wave: np.ndarray, *, segment_samples: int, overlap_samples: int) -> list[np.ndarray]:
    """The generator's segments of a long piece (``longform`` joins them every segment - overlap samples),
    each ``segment_samples`` long; the last is padded with silence where the piece ends inside it."""
    hop = segment_samples - overlap_samples
    if hop < 1:
        raise ValueError(f"overlap_samples={overlap_samples} must be below segment_samples={segment_samples}")
    starts = range(0, max(1, len(wave) - overlap_samples), hop)
    return [np.pad(wave[s : s + segment_samples], (0, max(0, s + segment_samples - len(wave)))) for s in starts]


def queries(clips: Iterable[str | Path], pieces: pd.DataFrame, meta: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """``(table of clip, part, start_seconds; waves (Q, samples))``: clips whole, pieces cut into their segments.

    ``pieces``: longform's manifest with a ``path`` column (its ``overlap_seconds`` says where segments join).
    """
    spec = AudioSpec.from_meta(meta)
    clips = list(clips)
    rows = [{"clip": Path(c).name, "part": 0, "start_seconds": 0.0} for c in clips]
    waves = list(features.read_clips(clips, meta)) if clips else []
    for piece in pieces.to_dict("records"):
        wave, sr = audio.read_wav(piece["path"])
        if sr != spec.sample_rate:
            raise ValueError(f"{piece['path']} is at {sr} Hz, the dataset at {spec.sample_rate} Hz")
        overlap = int(round(float(piece["overlap_seconds"]) * sr))
        parts = piece_parts(wave, segment_samples=spec.segment_samples, overlap_samples=overlap)
        hop = (spec.segment_samples - overlap) / sr
        rows += [{"clip": Path(piece["path"]).name, "part": k, "start_seconds": round(k * hop, 4)}
                 for k in range(len(parts))]  # fmt: skip
        waves += parts
    length = spec.segment_samples
    return pd.DataFrame(rows, columns=["clip", "part", "start_seconds"]), np.asarray(waves, np.float32).reshape(
        -1, length
    )


# --------------------------------------------------------------------------- spaces


def _mel_vectors(mels: np.ndarray) -> np.ndarray:
    return np.asarray(mels, np.float64).reshape(len(mels), -1)


def _embedded_rows(name: str, dataset_dir, segments_root, rows: np.ndarray, sample_rate: int) -> np.ndarray:
    """(len(rows), D) clip vectors of dataset rows, read and embedded :data:`_BATCH` segments at a time."""
    chunks = [
        embedders.clip_vectors(name, segment_waves(dataset_dir, segments_root, rows[i : i + _BATCH]), sample_rate=sample_rate)
        for i in range(0, len(rows), _BATCH)
    ]  # fmt: skip
    return np.concatenate(chunks)


def space_vectors(space: str, *, dataset_dir, segments_root, mels, meta, train, heldout, waves) -> tuple:
    """(train, heldout, query) vectors of one space, and its metric."""
    if space == "mel":
        return (
            _mel_vectors(mels[train]),
            _mel_vectors(mels[heldout]),
            _mel_vectors(features.waves_mels(waves, meta)),
            "rms",
        )
    sr = AudioSpec.from_meta(meta).sample_rate
    query = embedders.clip_vectors(space, waves, sample_rate=sr)
    rows = lambda r: _embedded_rows(space, dataset_dir, segments_root, r, sr) if len(r) else query[:0]  # noqa: E731
    return rows(train), rows(heldout), query, "cosine"


def primary_space(spaces: Iterable[str]) -> str:
    """The first space of :data:`PRIMARY` among ``spaces`` (else the first of them)."""
    spaces = list(spaces)
    return next((s for s in PRIMARY if s in spaces), spaces[0])


# --------------------------------------------------------------------------- the check


def check_space(
    space: str, table: pd.DataFrame, index: pd.DataFrame, *, train, heldout, quantile, **data
) -> pd.DataFrame:
    """The rows of nearest.csv for one space: every query's nearest training segment, distance and ratio."""
    train_v, heldout_v, query_v, metric = space_vectors(space, train=train, heldout=heldout, **data)
    found, distance = nearest(query_v, train_v, metric=metric)
    held = nearest(heldout_v, train_v, metric=metric)[1] if len(heldout) else np.zeros(0)
    ref = reference(held, quantile)
    ratio, copy = ratios(distance, ref)
    picked = index.loc[train[found]]
    return table.assign(
        space=space, primary=False, track=picked["track"].to_numpy(), segment=picked["segment"].to_numpy(),
        distance=np.round(distance, 6), reference=round(ref, 6), ratio=np.round(ratio, 4), copy=copy,
    )  # fmt: skip


def copy_check(
    *,
    dataset_dir: str | Path,
    segments_root: str | Path,
    clips: list[str | Path],
    out_csv: str | Path,
    out_dir: str | Path,
    pieces: pd.DataFrame | None = None,
    quantile: float = 0.0,
    perceptual: bool = True,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write nearest.csv (:data:`COLUMNS`) and, in ``out_dir``, each clip's and piece's nearest training
    segment in the primary space (``<clip name>``, for a piece its closest part's); return the table.

    Parameters
    ----------
    dataset_dir, segments_root : results/dataset and results/segments
    clips : generated clip WAVs; pieces : longform's manifest with a ``path`` column, or None
    quantile : of the held-out segments' nearest distances, the reference (0: their minimum)
    perceptual : also check in every embedder's space (imports TensorFlow); the mel space always
    """
    log = log or logging.getLogger(__name__)
    mels, meta = dataset.open_dataset(dataset_dir)
    train = dataset.split_rows(dataset_dir, "train")
    if len(train) == 0:
        raise ValueError(f"{dataset_dir} has no training segment to compare clips with")
    heldout = dataset.distinct_rows(dataset_dir, "heldout", AudioSpec.from_meta(meta).span_hops)
    index = pd.read_csv(Path(dataset_dir) / "index.csv", dtype={"track": str, "segment": str})
    index = index[index["row"] >= 0].set_index("row")
    table, waves = queries(clips, pieces if pieces is not None else pd.DataFrame(columns=["path"]), meta)
    spaces = ["mel", *(embedders.names() if perceptual else [])]
    data = dict(dataset_dir=dataset_dir, segments_root=segments_root, mels=mels, meta=meta, waves=waves)
    out = pd.concat(
        [check_space(s, table, index, train=train, heldout=heldout, quantile=quantile, **data) for s in spaces]
    )
    main = primary_space(spaces)
    out["primary"] = out["space"] == main
    out = out[COLUMNS].reset_index(drop=True)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(out_csv) as tmp:
        out.to_csv(tmp, index=False)
    _copy_nearest(out[out["primary"]], Path(segments_root), Path(out_dir))
    flagged = out[out["primary"]].groupby("clip")["copy"].any()
    log.info("copy check (%s space, reference %s held-out segment(s)): %d of %d clip(s) and piece(s) flagged",
             main, len(heldout), int(flagged.sum()), len(flagged))  # fmt: skip
    return out


def _copy_nearest(primary: pd.DataFrame, segments_root: Path, out_dir: Path) -> None:
    """Copy each clip's nearest training segment (a piece's: its part with the lowest ratio) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for clip, rows in primary.groupby("clip", sort=False):
        best = rows.loc[rows["distance"].idxmin()]
        source = segments_root / best["track"] / f"{best['segment']}.wav"
        with atomic.replacing(out_dir / clip) as tmp:
            shutil.copyfile(source, tmp)
