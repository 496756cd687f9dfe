"""What happens to a bad track: every source's outcome (results/tracks.tsv) and the ``on_error`` policy.

A track can fail to download, be undecodable, too short or silent; ``on_error: skip`` leaves it out
with its reason recorded, ``fail`` stops the run before training. A run with no usable track always
stops. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from audiowgan.core import atomic


class TrackError(RuntimeError):
    """No usable track, or an unusable one under ``on_error: fail``."""


TRACK_STATUS_COLUMNS = ["track", "title", "url", "source", "status", "reason", "segments", "silent_segments", "seconds"]


def track_status(resolved_tsv: str | Path, mel_dirs: dict[str, str | Path], out_tsv: str | Path) -> pd.DataFrame:
    """Every resolved source with its final outcome, written to ``out_tsv``.

    Tracks that resolved take the status their mel folder recorded (``ok``,
    ``download-failed``, ``undecodable``, ``too-short``, ``silent``); sources that
    did not resolve keep theirs (``failed``, ``duplicate``).
    """
    table = pd.read_csv(resolved_tsv, sep="\t", dtype=str, keep_default_na=False)
    table["segments"] = 0
    table["silent_segments"] = 0
    table["seconds"] = 0.0
    for i, track in table["track"].items():
        if track not in mel_dirs:
            continue
        meta = json.loads((Path(mel_dirs[track]) / "mel.json").read_text())
        table.loc[i, ["status", "reason"]] = [meta.get("status", "ok"), meta.get("reason", "")]
        table.loc[i, "segments"] = int(meta["n_segments"])
        table.loc[i, "silent_segments"] = len(meta.get("silent_segments", []))
        table.loc[i, "seconds"] = round(float(meta.get("total_seconds", 0.0)), 3)
    table = table[TRACK_STATUS_COLUMNS]
    with atomic.replacing(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


def enforce(table: pd.DataFrame, *, on_error: str, tracks_file: str | Path) -> None:
    """Raise TrackError when no track is usable, or when any is not and ``on_error`` is ``fail``."""
    bad = table[table["status"] != "ok"]
    if len(bad) == len(table):
        raise TrackError(f"no usable track: all {len(table)} failed or gave no segment; reasons in {tracks_file}")
    if on_error == "fail" and len(bad):
        first = bad.iloc[0]
        raise TrackError(
            f"{len(bad)} track(s) unusable and on_error is 'fail': first {first.track} ({first.url}): "
            f"{first.status}: {first.reason}; all reasons in {tracks_file}"
        )
