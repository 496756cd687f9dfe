"""The on_error policy and the per-track outcome table (results/tracks.tsv)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audiowgan.ingest import track_status as policy


def _resolved(tmp_path, statuses):
    rows = [{"track": f"t{i}", "title": f"T{i}", "url": f"http://x/{i}", "source": "s", "status": s, "reason": ""}
            for i, s in enumerate(statuses)]  # fmt: skip
    path = tmp_path / "resolved.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def _mel_dir(tmp_path, track, status="ok", n=3, reason=""):
    d = tmp_path / "mel" / track
    d.mkdir(parents=True)
    meta = {"status": status, "reason": reason, "n_segments": n, "silent_segments": [4], "total_seconds": 8.5}
    (d / "mel.json").write_text(json.dumps(meta))
    return d


def test_track_status_takes_each_tracks_final_outcome(tmp_path):
    resolved = _resolved(tmp_path, ["ok", "ok", "failed"])
    dirs = {"t0": _mel_dir(tmp_path, "t0"), "t1": _mel_dir(tmp_path, "t1", "too-short", 0, "0.5 s of audio")}
    table = policy.track_status(resolved, dirs, tmp_path / "tracks.tsv")
    assert table["status"].tolist() == ["ok", "too-short", "failed"]
    assert table["segments"].tolist() == [3, 0, 0] and table.loc[0, "silent_segments"] == 1
    assert list(pd.read_csv(tmp_path / "tracks.tsv", sep="\t").columns) == policy.TRACK_STATUS_COLUMNS


@pytest.mark.parametrize(
    "statuses, on_error, message",
    [(["ok", "silent"], "skip", None), (["ok", "silent"], "fail", r"1 track\(s\) unusable and on_error is 'fail'"),
     (["failed", "silent"], "skip", "no usable track: all 2"), (["ok"], "fail", None)],
)  # fmt: skip
def test_enforce(statuses, on_error, message):
    table = pd.DataFrame({"track": [f"t{i}" for i in range(len(statuses))], "url": "u", "status": statuses,
                          "reason": "why"})  # fmt: skip
    if message is None:
        policy.enforce(table, on_error=on_error, tracks_file="tracks.tsv")
    else:
        with pytest.raises(policy.TrackError, match=message):
            policy.enforce(table, on_error=on_error, tracks_file="tracks.tsv")
