"""Pack per-track mel folders into one memory-mappable dataset.

``mels.npy`` is (N, n_mels, frames) float32 written through ``open_memmap``, so
packing never holds more than one spectrogram in memory; ``index.csv`` maps each
row to its track and segment; ``meta.json`` records every audio and mel parameter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic

META_KEYS = (
    "sample_rate",
    "segment_seconds",
    "silence_threshold_db",
    "n_fft",
    "hop_length",
    "n_mels",
    "top_db",
    "fmin",
    "fmax",
    "frames",
)


class DatasetError(RuntimeError):
    pass


def split_holdout(keys: list[str], fraction: float) -> tuple[set[int], dict]:
    """Rows held out from training, and how they were chosen; ``keys`` are ``"track/segment"``.

    Whole tracks are held out, so adjacent segments of one recording (which share harmonies, tempo
    and the recording's sound) never sit on both sides: tracks are taken in the order of a hash of
    their id, skipping any that would overshoot the target by half again, until about
    ``fraction`` of the segments are held out; at least one track always stays for training. With
    only one track, the last contiguous block of its segments is held out instead (``"by":
    "block"``), so only the segments at the block's edge neighbour training data. Deterministic and
    independent of row order; at least 2 rows when ``fraction > 0`` (evaluation compares two halves
    of them), none with fewer than 4 rows.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"holdout_fraction={fraction!r} must be in [0, 1)")
    if fraction == 0 or len(keys) < 4:
        return set(), {"by": "none", "tracks": []}
    target = min(len(keys) - 2, max(2, round(len(keys) * fraction)))
    by_track: dict[str, list[int]] = {}
    for i in sorted(range(len(keys)), key=lambda i: keys[i]):
        by_track.setdefault(keys[i].rsplit("/", 1)[0], []).append(i)
    if len(by_track) == 1:
        (rows,) = by_track.values()
        return set(rows[-target:]), {"by": "block", "tracks": []}
    held: list[str] = []
    n_held = 0
    for track in sorted(by_track, key=lambda t: hashlib.sha1(t.encode()).hexdigest()):
        size = len(by_track[track])
        if n_held >= target or len(held) == len(by_track) - 1:
            break
        if n_held + size <= max(target * 1.5, 2):
            held.append(track)
            n_held += size
    if not held:  # every track is larger than the target: hold out the smallest one
        held = [min(by_track, key=lambda t: (len(by_track[t]), t))]
    return {i for t in held for i in by_track[t]}, {"by": "track", "tracks": sorted(held)}


def holdout_rows(keys: list[str], fraction: float) -> set[int]:
    """The rows of :func:`split_holdout`."""
    return split_holdout(keys, fraction)[0]


def pack(mel_dirs: dict[str, str | Path], out_dir: str | Path, *, holdout_fraction: float = 0.0) -> dict:
    """Pack ``{track: mel_dir}`` into ``out_dir/{mels.npy,index.csv,meta.json}``.

    Every mel folder must carry the same parameters (its ``mel.json``); tracks
    that yielded no segment are recorded in meta.json, not packed. ``index.csv``
    has one row per spectrogram: row, track, segment and split (``train``, or
    ``heldout`` for the rows that training never sees and evaluation compares
    generated clips against).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metas, files, empty, silent_rows = {}, [], [], []
    for track, d in sorted(mel_dirs.items()):
        d = Path(d)
        meta = json.loads((d / "mel.json").read_text())
        metas[track] = meta
        silent_rows.extend(
            {"row": -1, "track": track, "segment": f"{n:05d}", "split": "silent"}
            for n in meta.get("silent_segments", [])
        )
        npys = sorted(d.glob("[0-9]*.npy"))
        if not npys:
            empty.append(track)
        files.extend((track, p) for p in npys)
    if not files:
        raise DatasetError(f"no segments to pack from {len(mel_dirs)} track(s): every track was too short or silent")
    reference = {k: metas[files[0][0]][k] for k in META_KEYS}
    for track, meta in metas.items():
        diff = {k: (meta.get(k), reference[k]) for k in META_KEYS if meta.get(k) != reference[k] and track not in empty}
        if diff:
            raise DatasetError(f"track {track} was made with different parameters: {diff}")
    shape = (len(files), int(reference["n_mels"]), int(reference["frames"]))
    rows = []
    with atomic.replacing(out_dir / "mels.npy") as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        for i, (track, path) in enumerate(files):
            m = np.load(path)
            if m.shape != shape[1:]:
                raise DatasetError(f"{path} has shape {m.shape}, expected {shape[1:]}")
            mm[i] = m
            rows.append({"row": i, "track": track, "segment": path.stem, "split": "train"})
        held, holdout = split_holdout([f"{r['track']}/{r['segment']}" for r in rows], holdout_fraction)
        for i in held:
            rows[i]["split"] = "heldout"
        mm.flush()
        del mm
    # Dropped silent segments are listed too (row -1, split "silent"), so the index
    # accounts for every segment position of every track.
    index = pd.DataFrame(rows + silent_rows).sort_values(["track", "segment"], kind="stable")
    with atomic.replacing(out_dir / "index.csv") as tmp:
        index.to_csv(tmp, index=False)
    meta = {
        **reference,
        "n_segments": shape[0],
        "shape": list(shape),
        "n_train": sum(r["split"] == "train" for r in rows),
        "n_heldout": sum(r["split"] == "heldout" for r in rows),
        "holdout": holdout,
        "n_silent_dropped": len(silent_rows),
        "tracks": len(metas) - len(empty),
        "tracks_without_segments": empty,
        "seconds": shape[0] * float(reference["segment_seconds"]),
    }
    atomic.write_json(out_dir / "meta.json", meta)
    return meta


def split_rows(dataset_dir: str | Path, split: str = "train") -> np.ndarray:
    """Row numbers of one split (``train`` or ``heldout``) from ``index.csv``, ascending.

    An index without a ``split`` column puts every row in ``train``.
    """
    index = pd.read_csv(Path(dataset_dir) / "index.csv")
    if "split" not in index:
        index["split"] = "train"
    rows = index.loc[index["split"] == split, "row"].to_numpy(dtype=np.int64)
    return np.sort(rows[rows >= 0])


def open_dataset(dataset_dir: str | Path) -> tuple[np.ndarray, dict]:
    """Memory-map ``mels.npy`` (read-only) and read ``meta.json``."""
    dataset_dir = Path(dataset_dir)
    meta = json.loads((dataset_dir / "meta.json").read_text())
    return np.load(dataset_dir / "mels.npy", mmap_mode="r"), meta
