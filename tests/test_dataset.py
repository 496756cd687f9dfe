"""Unit tests of audiowgan.dataset: packing and memory-mapped reading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audiowgan import dataset

PARAMS = {"sample_rate": 16000, "segment_seconds": 1.0, "silence_threshold_db": -60, "n_fft": 512, "hop_length": 256,
          "n_mels": 8, "top_db": 80, "fmin": 0.0, "fmax": None}  # fmt: skip


def mel_dir(root, track, n, frames=63, **overrides):
    d = root / track
    d.mkdir()
    rng = np.random.default_rng(len(track))
    for i in range(n):
        np.save(d / f"{i * 2:05d}.npy", rng.uniform(-1, 1, (8, frames)).astype(np.float32))
    (d / "mel.json").write_text(json.dumps({**PARAMS, "frames": frames, "n_segments": n, **overrides}))
    return d


def test_pack_stacks_tracks_in_order_with_index_and_meta(tmp_path):
    dirs = {"b": mel_dir(tmp_path, "b", 2), "a": mel_dir(tmp_path, "a", 3), "empty": mel_dir(tmp_path, "empty", 0)}
    meta = dataset.pack(dirs, tmp_path / "ds")
    mels, meta2 = dataset.open_dataset(tmp_path / "ds")
    assert isinstance(mels, np.memmap) and mels.shape == (5, 8, 63) and meta == meta2
    index = pd.read_csv(tmp_path / "ds" / "index.csv", dtype={"segment": str})
    assert set(index["split"]) == {"train"}
    assert index[["track", "segment"]].values.tolist() == [["a", "00000"], ["a", "00002"], ["a", "00004"],
                                                           ["b", "00000"], ["b", "00002"]]  # fmt: skip
    assert np.array_equal(mels[3], np.load(dirs["b"] / "00000.npy"))
    assert meta["tracks_without_segments"] == ["empty"] and meta["hop_length"] == 256 and meta["frames"] == 63
    assert not list((tmp_path / "ds").glob(".*tmp"))


def test_pack_refuses_mixed_parameters(tmp_path):
    dirs = {"a": mel_dir(tmp_path, "a", 1), "b": mel_dir(tmp_path, "b", 1, hop_length=128)}
    with pytest.raises(dataset.DatasetError, match="track b was made with different parameters"):
        dataset.pack(dirs, tmp_path / "ds")


def test_pack_with_no_segment_at_all_says_so(tmp_path):
    with pytest.raises(dataset.DatasetError, match="no segments to pack"):
        dataset.pack({"a": mel_dir(tmp_path, "a", 0)}, tmp_path / "ds")


def test_holdout_split_is_deterministic_and_bounded(tmp_path):
    keys = [f"t/{i:05d}" for i in range(40)]
    held = dataset.holdout_rows(keys, 0.1)
    assert len(held) == 4 and held == dataset.holdout_rows(list(keys), 0.1)
    assert dataset.holdout_rows(keys, 0.0) == set() and dataset.holdout_rows(keys[:3], 0.2) == set()
    assert len(dataset.holdout_rows(keys[:5], 0.01)) == 2  # at least two, never all
    meta = dataset.pack({"a": mel_dir(tmp_path, "a", 10)}, tmp_path / "ds", holdout_fraction=0.2)
    assert (meta["n_train"], meta["n_heldout"]) == (8, 2)
    assert len(dataset.split_rows(tmp_path / "ds", "heldout")) == 2
    assert dataset.split_rows(tmp_path / "ds").tolist() == sorted(
        set(range(10)) - set(dataset.split_rows(tmp_path / "ds", "heldout"))
    )


def test_holdout_is_by_whole_tracks_and_never_splits_one_track():
    keys = [
        f"{t}/{i:05d}" for t, n in (("a", 12), ("b", 7), ("c", 9), ("d", 15), ("e", 8), ("f", 10)) for i in range(n)
    ]
    held, info = dataset.split_holdout(keys, 0.2)
    assert info["by"] == "track" and info["tracks"]
    tracks_held = {keys[i].split("/")[0] for i in held}
    tracks_train = {keys[i].split("/")[0] for i in set(range(len(keys))) - held}
    assert tracks_held == set(info["tracks"]) and not tracks_held & tracks_train and tracks_train
    assert 0.1 <= len(held) / len(keys) <= 0.35
    shuffled = list(reversed(keys))  # the same tracks, whatever the row order
    held2, info2 = dataset.split_holdout(shuffled, 0.2)
    assert info2 == info and {shuffled[i] for i in held2} == {keys[i] for i in held}


def test_holdout_of_large_tracks_takes_the_smallest_and_keeps_one_for_training():
    keys = [f"{t}/{i:05d}" for t, n in (("big", 50), ("small", 6)) for i in range(n)]
    held, info = dataset.split_holdout(keys, 0.05)
    assert info == {"by": "track", "tracks": ["small"]} and len(held) == 6


def test_holdout_with_one_track_is_the_last_block_and_pack_records_it(tmp_path):
    keys = [f"only/{i:05d}" for i in range(20)]
    held, info = dataset.split_holdout(keys, 0.2)
    assert info["by"] == "block" and held == set(range(16, 20))
    meta = dataset.pack({"a": mel_dir(tmp_path, "a", 6), "b": mel_dir(tmp_path, "b", 4)}, tmp_path / "ds",
                        holdout_fraction=0.3)  # fmt: skip
    assert meta["holdout"]["by"] == "track" and meta["n_heldout"] in (4, 6)
    index = pd.read_csv(tmp_path / "ds" / "index.csv")
    assert index.groupby("track")["split"].nunique().max() == 1  # no track on both sides
