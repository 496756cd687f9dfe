"""Unit tests of audiowgan.data.pack: packing and memory-mapped reading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiowgan.core.settings import MelSpec
from audiowgan.data import pack as dataset
from audiowgan.dsp import audio
from audiowgan.dsp import mel as features
from audiowgan.ingest import demo
from audiowgan.look import evaluate as evaluation
from audiowgan.look import nearest
from conftest import dry_run_counts, snakemake

SPEC = MelSpec(n_fft=256, hop_length=128, n_mels=16, top_db=80.0, fmin=0.0, fmax=None)
PARAMS = {"sample_rate": 16000, "segment_seconds": 1.0, "segment_overlap": 0.0, "segment_hop_seconds": 1.0,
          "silence_threshold_db": -60,
          "n_fft": 512, "hop_length": 256, "n_mels": 8, "top_db": 80, "fmin": 0.0, "fmax": None}  # fmt: skip


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


def keys_of(**tracks):
    return [f"{t}/{i:05d}" for t, n in tracks.items() for i in range(n)]


def rows_of(splits, name):
    return {i for i, s in enumerate(splits) if s == name}


def test_holdout_split_is_deterministic_and_bounded(tmp_path):
    keys = keys_of(t=40)
    splits, _ = dataset.split_holdout(keys, 0.1)
    assert len(rows_of(splits, "heldout")) == 4 and splits == dataset.split_holdout(list(keys), 0.1)[0]
    assert set(dataset.split_holdout(keys, 0.0)[0]) == {"train"}
    assert set(dataset.split_holdout(keys[:3], 0.2)[0]) == {"train"}
    assert len(rows_of(dataset.split_holdout(keys[:5], 0.01)[0], "heldout")) == 2  # at least two, never all
    meta = dataset.pack({"a": mel_dir(tmp_path, "a", 10)}, tmp_path / "ds", holdout_fraction=0.2)
    assert (meta["n_train"], meta["n_heldout"], meta["holdout"]["boundary_dropped"]) == (8, 2, 0)
    assert len(dataset.split_rows(tmp_path / "ds", "heldout")) == 2
    assert dataset.split_rows(tmp_path / "ds").tolist() == sorted(
        set(range(10)) - set(dataset.split_rows(tmp_path / "ds", "heldout"))
    )


def test_holdout_is_by_whole_tracks_and_never_splits_one_track():
    keys = keys_of(a=12, b=7, c=9, d=15, e=8, f=10)
    splits, info = dataset.split_holdout(keys, 0.2)
    held = rows_of(splits, "heldout")
    assert info["by"] == "track" and info["tracks"] and "whole track" in info["reason"]
    tracks_held = {keys[i].split("/")[0] for i in held}
    tracks_train = {keys[i].split("/")[0] for i in set(range(len(keys))) - held}
    assert tracks_held == set(info["tracks"]) and not tracks_held & tracks_train and tracks_train
    assert 0.2 / 1.5 <= len(held) / len(keys) <= 0.2 * 1.5
    shuffled = list(reversed(keys))  # the same tracks, whatever the row order
    splits2, info2 = dataset.split_holdout(shuffled, 0.2)
    assert info2 == info and {shuffled[i] for i in rows_of(splits2, "heldout")} == {keys[i] for i in held}


@pytest.mark.parametrize(
    "tracks, fraction",
    [({"a": 15, "b": 15}, 0.1), ({"a": 6, "b": 6}, 0.1), ({"big": 50, "small": 6}, 0.05), ({"a": 29, "b": 29}, 0.1),
     ({"a": 3, "b": 100, "c": 100}, 0.1), ({"a": 12, "b": 7, "c": 9, "d": 15, "e": 8, "f": 10}, 0.2),
     ({f"t{i}": 15 for i in range(6)}, 0.1), ({"a": 40, "b": 40, "c": 40}, 0.3)],
)  # fmt: skip
def test_holdout_never_exceeds_one_and_a_half_times_its_target(tracks, fraction):
    keys = keys_of(**tracks)
    splits, info = dataset.split_holdout(keys, fraction)
    target = max(2, round(len(keys) * fraction))  # at least two: evaluation compares two halves
    assert target / 1.5 <= len(rows_of(splits, "heldout")) <= 1.5 * target, info
    assert info["target"] == target and info["fraction"] == fraction and info["reason"]


def test_two_equal_tracks_fall_back_to_a_block_at_the_end_of_each(tmp_path):
    # The demo's 2 s segments of two 30 s tracks: a whole track would hold out half of the segments.
    splits, info = dataset.split_holdout(keys_of(a=15, b=15), 0.1)
    assert info["by"] == "end-blocks" and info["tracks"] == ["a", "b"] and "no whole track" in info["reason"]
    assert rows_of(splits, "heldout") in ({13, 14, 29}, {14, 28, 29})  # the last segments of each track
    meta = dataset.pack({"a": mel_dir(tmp_path, "a", 15), "b": mel_dir(tmp_path, "b", 15)}, tmp_path / "ds",
                        holdout_fraction=0.1)  # fmt: skip
    assert (meta["n_train"], meta["n_heldout"], meta["holdout"]["boundary_dropped"]) == (27, 3, 0)
    assert meta["holdout"]["by"] == "end-blocks" and meta["holdout"]["reason"] == info["reason"]
    index = pd.read_csv(tmp_path / "ds" / "index.csv", dtype={"segment": str})
    for _, rows in index.groupby("track"):  # held out at the end, after every training segment
        assert rows["split"].tolist()[-1] == "heldout" and (rows["split"] == "heldout").sum() in (1, 2)
        assert rows["split"].tolist() == sorted(rows["split"], key=lambda s: s == "heldout")


def test_holdout_with_one_track_is_its_last_block_and_pack_records_it(tmp_path):
    splits, info = dataset.split_holdout(keys_of(only=20), 0.2)
    assert info["by"] == "end-blocks" and "one track" in info["reason"]
    assert rows_of(splits, "heldout") == set(range(16, 20))
    meta = dataset.pack({"a": mel_dir(tmp_path, "a", 6), "b": mel_dir(tmp_path, "b", 4)}, tmp_path / "ds",
                        holdout_fraction=0.3)  # fmt: skip
    assert meta["holdout"]["by"] == "track" and meta["n_heldout"] == 4
    index = pd.read_csv(tmp_path / "ds" / "index.csv")
    assert index.groupby("track")["split"].nunique().max() == 1  # no track on both sides


def test_end_blocks_on_request_hold_out_the_end_of_every_track_even_where_whole_tracks_fit(tmp_path):
    keys = keys_of(a=12, b=7, c=9, d=15, e=8, f=10)  # auto holds out whole tracks here (test above)
    splits, info = dataset.split_holdout(keys, 0.2, by="end-blocks")
    held = rows_of(splits, "heldout")
    assert info["by"] == "end-blocks" and "requested" in info["reason"] and len(held) == info["target"] == 12
    assert info["tracks"] == list("abcdef")  # every track gives its share, at its end
    for track in "abcdef":
        rows = [i for i, k in enumerate(keys) if k.startswith(track + "/")]
        assert [i in held for i in rows] == sorted(i in held for i in rows)
    meta = dataset.pack({"a": mel_dir(tmp_path, "a", 6), "b": mel_dir(tmp_path, "b", 4)}, tmp_path / "ds",
                        holdout_fraction=0.3, holdout_by="end-blocks")  # fmt: skip
    assert meta["holdout"]["by"] == "end-blocks" and meta["holdout"]["tracks"] == ["a", "b"]  # auto: track b whole
    with pytest.raises(ValueError, match="holdout_by='tracks' must be one of auto, end-blocks"):
        dataset.split_holdout(keys, 0.2, by="tracks")


def test_segment_numbers_sort_as_numbers_not_as_text():
    keys = ["t/99999", "t/100000", "t/100001", "t/99998", "u/00000", "u/00001", "u/00002", "u/00003"]
    splits, info = dataset.split_holdout(keys, 0.25)
    assert info["by"] == "end-blocks" and {keys[i] for i in rows_of(splits, "heldout")} == {"t/100001", "u/00003"}


@pytest.mark.parametrize("span", [1, 2, 4])
def test_end_blocks_drop_the_training_segments_that_share_audio_with_the_held_out_ones(span):
    # hop = segment / span: segments whose numbers differ by less than ``span`` overlap.
    keys = keys_of(a=40, b=40)
    splits, info = dataset.split_holdout(keys, 0.1, span=span)
    held, dropped, train = (rows_of(splits, s) for s in ("heldout", "boundary", "train"))
    assert len(held) == 8 and len(dropped) == 2 * (span - 1) == info["boundary_dropped"]
    number = {i: (k.split("/")[0], int(k.split("/")[1])) for i, k in enumerate(keys)}
    for h in held:
        for t in train:
            (th, nh), (tt, nt) = number[h], number[t]
            assert th != tt or abs(nh - nt) >= span  # no training segment shares a sample with a held-out one
    for track in "ab":  # only the span - 1 segments just before each block are dropped
        first = min(n for i, (t, n) in number.items() if t == track and i in held)
        assert {n for i, (t, n) in number.items() if t == track and i in dropped} == set(range(first - span + 1, first))


def test_overlapping_segments_are_held_out_and_packed_without_sharing_audio(tmp_path):
    """Real audio through segment, mel and pack: no held-out row shares a sample with a training row."""
    sr, seconds, overlap, hop = 8000, 1.0, 0.75, 0.25
    roots = {}
    for seed, t in enumerate("ab"):
        src = tmp_path / f"{t}.wav"
        sf.write(src, demo.piece(seed=seed, seconds=12.2, sample_rate=sr), sr)
        seg, roots[t] = tmp_path / "segments" / t, tmp_path / "mel" / t
        audio.segment_track(src, {"status": "ok"}, seg, sample_rate=sr, segment_seconds=seconds,
                            segment_overlap=overlap, silence_threshold_db=-60)  # fmt: skip
        features.mel_directory(seg, roots[t], spec=SPEC)
    meta = dataset.pack(roots, tmp_path / "ds", holdout_fraction=0.1)
    assert (meta["segment_overlap"], meta["segment_hop_seconds"]) == (overlap, hop)
    assert meta["n_segments"] == 2 * 45  # 1 + (12.2 - 1) // 0.25 each
    assert meta["holdout"]["by"] == "end-blocks" and meta["holdout"]["boundary_dropped"] == 2 * 3
    assert (meta["n_train"], meta["n_heldout"]) == (90 - 9 - 6, 9)
    assert meta["seconds"] == pytest.approx(2 * 12.0)  # distinct audio, not 90 segments of 1 s
    index = pd.read_csv(tmp_path / "ds" / "index.csv", dtype={"segment": str})
    start = index["segment"].astype(int) * int(hop * sr)  # segment k starts at k hops
    spans = {s: [(t, b, b + int(seconds * sr)) for t, b in zip(index["track"][m], start[m])]
             for s in ("train", "heldout") for m in [index["split"] == s]}  # fmt: skip
    for track, b0, e0 in spans["heldout"]:
        assert all(t != track or e1 <= b0 or e0 <= b1 for t, b1, e1 in spans["train"])
    clips = sorted((tmp_path / "segments" / "a").glob("*.wav"))[:3]  # evaluation reads overlapping segments too
    metrics = evaluation.evaluate(dataset_dir=tmp_path / "ds", segments_root=tmp_path / "segments", clips=clips,
                                  generator_mels=None, out=tmp_path / "metrics.json", seed=0, round_trip_segments=2,
                                  griffin_lim_iters=2, inversion_method="fast")  # fmt: skip
    assert metrics["status"] == "ok" and metrics["split"]["heldout_segments"] == 9
    assert metrics["split"]["by"] == "end-blocks" and metrics["split"]["boundary_dropped"] == 6
    assert metrics["split"]["holdout_reason"] == meta["holdout"]["reason"]
    assert "no whole track" in meta["holdout"]["reason"] and "6 training segment(s)" in meta["holdout"]["reason"]
    # The copy check compares against every training segment, overlapping ones included, and the held-out ones
    # that share no audio: training segments posing as clips are copies, found at their own place.
    table = nearest.copy_check(dataset_dir=tmp_path / "ds", segments_root=tmp_path / "segments", clips=clips,
                               out_csv=tmp_path / "nearest.csv", out_dir=tmp_path / "nearest", perceptual=False)  # fmt: skip
    assert table["copy"].all() and table["segment"].tolist() == [c.stem for c in clips]


@pytest.mark.workflow
def test_changing_the_segment_overlap_reruns_segment_onward_and_cuts_overlapping_segments(workdir_copy):
    change = ["--configfile", "config/test.yaml", "--config", "audio={segment_overlap: 0.5}"]  # the string "0.5"
    counts = dry_run_counts(workdir_copy, *change)
    assert counts["segment"] == counts["mel"] == 4 and not {"tracks", "download"} & set(counts), counts
    snakemake(workdir_copy, *change, "--until", "pack")
    meta = json.loads((workdir_copy / "results" / "dataset" / "meta.json").read_text())
    assert (meta["segment_overlap"], meta["segment_hop_seconds"]) == (0.5, 0.5)
    assert meta["n_segments"] == 36  # 20 one-second segments before
    assert meta["holdout"]["by"] == "end-blocks" and meta["holdout"]["boundary_dropped"] == 4
    assert meta["seconds"] == 20.0  # the same audio


def test_distinct_rows_share_no_audio(tmp_path):
    # Track a: segments 0..5 at half-segment hops (span 2), b: 0, 1, 3 (2 dropped as silent), c held out too.
    rows = [("a", n) for n in range(6)] + [("b", n) for n in (0, 1, 3)]
    index = pd.DataFrame(
        {
            "row": range(len(rows)),
            "track": [t for t, _ in rows],
            "segment": [f"{n:05d}" for _, n in rows],
            "split": "heldout",
        }
    )
    index.to_csv(tmp_path / "index.csv", index=False)
    assert list(dataset.distinct_rows(tmp_path, "heldout", 2)) == [0, 2, 4, 6, 8]  # a: 0, 2, 4; b: 0, 3
    assert list(dataset.distinct_rows(tmp_path, "heldout", 1)) == list(range(9))
    assert list(dataset.distinct_rows(tmp_path, "train", 2)) == []
