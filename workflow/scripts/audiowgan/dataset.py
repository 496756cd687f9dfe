"""Pack per-track mel folders into one memory-mappable dataset.

``mels.npy`` is (N, n_mels, frames) float32 written through ``open_memmap``, so
packing never holds more than one spectrogram in memory; ``index.csv`` maps each
row to its track and segment; ``meta.json`` records every audio and mel parameter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

META_KEYS = ("sample_rate", "segment_seconds", "silence_threshold_db", "n_fft", "hop_length", "n_mels", "top_db",
             "fmin", "fmax", "frames")  # fmt: skip


class DatasetError(RuntimeError):
    pass


def pack(mel_dirs: dict[str, str | Path], out_dir: str | Path) -> dict:
    """Pack ``{track: mel_dir}`` into ``out_dir/{mels.npy,index.csv,meta.json}``.

    Every mel folder must carry the same parameters (its ``mel.json``); tracks
    that yielded no segment are recorded in meta.json, not packed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metas, files, empty = {}, [], []
    for track, d in sorted(mel_dirs.items()):
        d = Path(d)
        meta = json.loads((d / "mel.json").read_text())
        metas[track] = meta
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
    tmp = out_dir / ".mels.npy.tmp"
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    rows = []
    for i, (track, path) in enumerate(files):
        m = np.load(path)
        if m.shape != shape[1:]:
            raise DatasetError(f"{path} has shape {m.shape}, expected {shape[1:]}")
        mm[i] = m
        rows.append({"row": i, "track": track, "segment": path.stem})
    mm.flush()
    del mm
    os.replace(tmp, out_dir / "mels.npy")
    pd.DataFrame(rows).to_csv(out_dir / "index.csv", index=False)
    meta = {
        **reference,
        "n_segments": shape[0],
        "shape": list(shape),
        "tracks": len(metas) - len(empty),
        "tracks_without_segments": empty,
        "seconds": shape[0] * float(reference["segment_seconds"]),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def open_dataset(dataset_dir: str | Path) -> tuple[np.ndarray, dict]:
    """Memory-map ``mels.npy`` (read-only) and read ``meta.json``."""
    dataset_dir = Path(dataset_dir)
    meta = json.loads((dataset_dir / "meta.json").read_text())
    return np.load(dataset_dir / "mels.npy", mmap_mode="r"), meta
