"""Pack per-track mel folders into one memory-mappable dataset.

``mels.npy`` is (N, n_mels, frames) float32 written through ``open_memmap``, so
packing never holds more than one spectrogram in memory; ``index.csv`` maps each
row to its track and segment; ``meta.json`` records every audio and mel parameter.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from audiowgan.core import atomic
from audiowgan.core.settings import AudioSpec

META_KEYS = (
    "sample_rate",
    "segment_seconds",
    "segment_overlap",
    "segment_hop_seconds",
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


HOLDOUT_SLACK = 1.5  # the held-out share stays within this factor of holdout_fraction, either way


HOLDOUT_BY = ("auto", "end-blocks")


def split_holdout(keys: list[str], fraction: float, *, span: int = 1, by: str = "auto") -> tuple[list[str], dict]:
    """Each row's split (``train``, ``heldout`` or ``boundary``) and how it was chosen; keys are ``track/NNNNN``.

    The target is about ``fraction`` of the rows: at least 2 (evaluation compares two halves of them),
    at most all but 2, none with fewer than 4 rows. Whole tracks are held out when they can be, so
    that no recording (its harmonies, tempo, sound) sits on both sides: tracks are taken in the order
    of a hash of their id, skipping any that would overshoot, and kept if they hold out between
    target / HOLDOUT_SLACK and target * HOLDOUT_SLACK rows with a track left for training
    (``"by": "track"``). Otherwise (one track, or tracks too large: two equal tracks would hold out
    half) every track holds out its last segments, its share of the target (``"by": "end-blocks"``).
    ``by="end-blocks"`` skips the whole tracks: the held-out music then comes from every piece the model
    learnt from (does it sound like these pieces?) rather than from pieces it never heard (does it
    generalise to others?); with few, unlike tracks the two answers differ.
    Segments whose numbers differ by less than ``span`` share audio (``AudioSpec.span_hops``); the
    training segments that overlap the first segment of a block are marked ``boundary`` and used
    nowhere, so held-out rows never share a sample with training rows. Deterministic and
    independent of row order; ``info["reason"]`` says why in words.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"holdout_fraction={fraction!r} must be in [0, 1)")
    if by not in HOLDOUT_BY:
        raise ValueError(f"holdout_by={by!r} must be one of {', '.join(HOLDOUT_BY)}")
    splits = ["train"] * len(keys)
    info = {"by": "none", "tracks": [], "fraction": fraction, "target": 0, "boundary_dropped": 0}
    if fraction == 0 or len(keys) < 4:
        info["reason"] = "holdout_fraction is 0" if fraction == 0 else f"{len(keys)} segment(s): too few to hold out"
        return splits, info
    info["target"] = target = min(len(keys) - 2, max(2, round(len(keys) * fraction)))
    tracks = _rows_by_track(keys)
    held = _whole_tracks(tracks, target) if by == "auto" else []
    if held:
        info.update(by="track", **_hold_out_tracks(tracks, held, target, splits))
    else:
        info.update(by="end-blocks", **_hold_out_end_blocks(tracks, target, span, splits, requested=by != "auto"))
    return splits, info


def _track_order(track: str) -> str:
    """A fixed order of tracks that does not favour any name (ids are often numbered or dated)."""
    return hashlib.sha1(track.encode()).hexdigest()


def _rows_by_track(keys: list[str]) -> dict[str, list[tuple[int, int]]]:
    """``{track: [(segment number, row), ...]}`` in segment order: numbers, not text (100000 > 99999)."""
    tracks: dict[str, list[tuple[int, int]]] = {}
    for row, key in enumerate(keys):
        track, segment = key.rsplit("/", 1)
        tracks.setdefault(track, []).append((int(segment), row))
    return {t: sorted(rows) for t, rows in tracks.items()}


def _whole_tracks(tracks: dict[str, list], target: int) -> list[str]:
    """Tracks holding out within HOLDOUT_SLACK of ``target`` rows, one left for training; [] if none do."""
    held: list[str] = []
    n_held = 0
    for track in sorted(tracks, key=_track_order):
        if n_held >= target or len(held) == len(tracks) - 1:
            break
        if n_held + len(tracks[track]) <= target * HOLDOUT_SLACK:
            held.append(track)
            n_held += len(tracks[track])
    return held if n_held * HOLDOUT_SLACK >= target else []


def _end_blocks(tracks: dict[str, list], target: int) -> dict[str, int]:
    """Rows each track holds out at its end: its share of ``target``, rounded by largest remainder.

    The remainders' ties go in track-hash order, so the split never depends on the row order.
    """
    n = sum(map(len, tracks.values()))
    quota = {t: target * len(rows) / n for t, rows in tracks.items()}
    sizes = {t: int(q) for t, q in quota.items()}
    extra = sorted(tracks, key=lambda t: (sizes[t] - quota[t], _track_order(t)))[: target - sum(sizes.values())]
    return {t: sizes[t] + (t in extra) for t in tracks}


def _hold_out_tracks(tracks: dict[str, list], held: list[str], target: int, splits: list[str]) -> dict:
    """Mark every row of the ``held`` tracks as held out; their account for meta.json."""
    for track in held:
        for _, row in tracks[track]:
            splits[row] = "heldout"
    n_held, n = sum(len(tracks[t]) for t in held), sum(map(len, tracks.values()))
    reason = f"whole tracks: {len(held)} of {len(tracks)}, {n_held} of {n} segments (target {target})"
    return {"tracks": sorted(held), "reason": reason}


def _hold_out_end_blocks(
    tracks: dict[str, list], target: int, span: int, splits: list[str], *, requested: bool = False
) -> dict:
    """Mark each track's end block as held out and its overlapping neighbours as ``boundary``; the account."""
    blocks = _end_blocks(tracks, target)
    dropped = sum(_hold_out_end(tracks[t], size, span, splits) for t, size in blocks.items())
    n = sum(map(len, tracks.values()))
    if requested:
        reason = (
            f"end blocks requested (evaluate.holdout_by): the last segments of each track are held out, {target} of {n}"
        )
    elif len(tracks) == 1:
        reason = f"only one track: its last {target} of {n} segments are held out"
    else:
        reason = (
            f"no whole track holds out between {math.ceil(target / HOLDOUT_SLACK)} and "
            f"{math.floor(target * HOLDOUT_SLACK)} of {n} segments (the smallest has "
            f"{min(map(len, tracks.values()))}): the last segments of each track are held out, {target} in all"
        )
    if dropped:
        reason += f"; {dropped} training segment(s) overlapping a held-out block are dropped (split 'boundary')"
    return {"tracks": sorted(t for t, size in blocks.items() if size), "boundary_dropped": dropped, "reason": reason}


def _hold_out_end(rows: list[tuple[int, int]], size: int, span: int, splits: list[str]) -> int:
    """Mark the last ``size`` of one track's ``(number, row)`` as held out, and the training rows that
    overlap the first of them as ``boundary``; return how many were marked ``boundary``."""
    if size == 0:
        return 0
    first = rows[-size][0]
    for _, row in rows[-size:]:
        splits[row] = "heldout"
    overlapping = [row for number, row in rows[:-size] if first - number < span]
    for row in overlapping:
        splits[row] = "boundary"
    return len(overlapping)


def pack(
    mel_dirs: dict[str, str | Path], out_dir: str | Path, *, holdout_fraction: float = 0.0, holdout_by: str = "auto"
) -> dict:
    """Pack ``{track: mel_dir}`` into ``out_dir/{mels.npy,index.csv,meta.json}``.

    Every mel folder must carry the same parameters (its ``mel.json``); tracks
    that yielded no segment are recorded in meta.json, not packed. ``index.csv``
    has one row per spectrogram: row, track, segment and split (``train``;
    ``heldout`` for the rows that training never sees and evaluation compares
    generated clips against; ``boundary`` for training rows that overlap a held-out
    block and are used nowhere; see :func:`split_holdout`, whose account is
    meta.json's ``holdout``).
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
        spec = AudioSpec.from_meta(reference)
        splits, holdout = split_holdout(
            [f"{r['track']}/{r['segment']}" for r in rows], holdout_fraction, span=spec.span_hops, by=holdout_by
        )
        for row, split in zip(rows, splits, strict=True):
            row["split"] = split
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
        "seconds": sum(_distinct_seconds([int(r["segment"]) for r in rows if r["track"] == t], spec) for t in metas),
    }
    atomic.write_json(out_dir / "meta.json", meta)
    return meta


def _distinct_seconds(numbers: list[int], spec: AudioSpec) -> float:
    """Seconds of audio under one track's segments: what overlapping segments share counts once."""
    if not numbers:
        return 0.0
    gaps = np.diff(np.sort(numbers)) * spec.hop_seconds
    return float(np.minimum(gaps, spec.segment_seconds).sum() + spec.segment_seconds)


def _split_index(dataset_dir: str | Path, split: str) -> pd.DataFrame:
    """The ``index.csv`` rows of one split that have a row in mels.npy; no ``split`` column means all ``train``."""
    index = pd.read_csv(Path(dataset_dir) / "index.csv", dtype={"track": str, "segment": str})
    if "split" not in index:
        index["split"] = "train"
    return index[(index["split"] == split) & (index["row"] >= 0)]


def split_rows(dataset_dir: str | Path, split: str = "train") -> np.ndarray:
    """Row numbers of one split (``train`` or ``heldout``) from ``index.csv``, ascending.

    An index without a ``split`` column puts every row in ``train``.
    """
    return np.sort(_split_index(dataset_dir, split)["row"].to_numpy(dtype=np.int64))


def distinct_rows(dataset_dir: str | Path, split: str, span: int) -> np.ndarray:
    """Rows of ``split`` no two of which share audio: per track, in segment order, a segment is kept when it
    starts at least ``span`` hops (``AudioSpec.span_hops``) after the last kept one. With side-by-side
    segments (span 1) that is every row of the split. Evaluation compares such rows, so overlapping
    segments cannot make real music look closer to itself than it is."""
    index = _split_index(dataset_dir, split)
    kept = []
    for _, rows in index.assign(number=index["segment"].astype(int)).sort_values("number").groupby("track"):
        last = None
        for number, row in zip(rows["number"], rows["row"]):
            if last is None or number - last >= span:
                kept.append(int(row))
                last = number
    return np.sort(np.asarray(kept, dtype=np.int64))


def open_dataset(dataset_dir: str | Path) -> tuple[np.ndarray, dict]:
    """Memory-map ``mels.npy`` (read-only) and read ``meta.json``."""
    dataset_dir = Path(dataset_dir)
    meta = json.loads((dataset_dir / "meta.json").read_text())
    return np.load(dataset_dir / "mels.npy", mmap_mode="r"), meta
