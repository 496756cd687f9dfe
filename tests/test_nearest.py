"""The copy check (results/eval/nearest.csv): nearest training segments, the held-out reference, the ratio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiowgan.dsp import audio
from audiowgan.dsp import mel as features
from audiowgan.ingest import demo
from audiowgan.look import embedders, nearest
from audiowgan.render.longform import overlap_add

SR, SECONDS = 8000, 0.5
META = {"sample_rate": SR, "segment_seconds": SECONDS, "n_fft": 256, "hop_length": 128, "n_mels": 16,
        "top_db": 80.0, "fmin": 0.0, "fmax": None}  # fmt: skip
LENGTH = int(SR * SECONDS)


def make_dataset(root: Path, tracks: dict[str, str]) -> tuple[Path, Path]:
    """results/{dataset,segments}: ``{track: split}``, each track a different synthetic piece of 4 segments."""
    ds, segs = root / "dataset", root / "segments"
    ds.mkdir(parents=True)
    mels, rows = [], []
    for seed, (track, split) in enumerate(tracks.items()):
        (segs / track).mkdir(parents=True)
        song = demo.piece(seed=seed, seconds=4 * SECONDS, sample_rate=SR)
        for i in range(4):
            piece = song[i * LENGTH : (i + 1) * LENGTH]
            audio.write_wav(segs / track / f"{i:05d}.wav", piece, SR)
            mel_args = {k: META[k] for k in ("n_fft", "hop_length", "n_mels", "top_db", "fmin", "fmax")}
            mels.append(features.mel(piece, sample_rate=SR, **mel_args))
            rows.append({"row": len(rows), "track": track, "segment": f"{i:05d}", "split": split})
    np.save(ds / "mels.npy", np.stack(mels))
    pd.DataFrame(rows).to_csv(ds / "index.csv", index=False)
    (ds / "meta.json").write_text(
        json.dumps({**META, "frames": mels[0].shape[1], "shape": [len(rows), *mels[0].shape]})
    )
    return ds, segs


# --------------------------------------------------------------------------- the whole check, real embeddings


def test_a_training_segment_posing_as_a_clip_is_a_copy_and_noise_and_heldout_music_are_not(tmp_path):
    ds, segs = make_dataset(tmp_path, {"a": "train", "b": "train", "c": "train", "d": "heldout", "e": "heldout"})
    gen = tmp_path / "generated"
    gen.mkdir()
    shutil.copyfile(segs / "b" / "00002.wav", gen / "clip_000.wav")  # a training segment, "generated"
    audio.write_wav(gen / "clip_001.wav", 0.1 * np.random.default_rng(0).standard_normal(LENGTH), SR)
    for i, track in enumerate(("d", "e"), start=2):  # held-out music, unseen in training
        shutil.copyfile(segs / track / "00001.wav", gen / f"clip_00{i}.wav")
    clips = sorted(gen.glob("clip_*.wav"))
    out = nearest.copy_check(dataset_dir=ds, segments_root=segs, clips=clips, out_csv=tmp_path / "eval" / "nearest.csv",
                             out_dir=tmp_path / "eval" / "nearest")  # fmt: skip
    written = pd.read_csv(tmp_path / "eval" / "nearest.csv", dtype={"segment": str})
    spaces = ["mel", *embedders.names()]  # mel, CREPE, musicnn
    assert list(written.columns) == nearest.COLUMNS and len(written) == len(out) == 4 * len(spaces)
    assert set(written["space"]) == set(spaces)
    assert (written["primary"] == (written["space"] == nearest.primary_space(spaces))).all()
    for space, rows in written.groupby("space"):
        rows = rows.set_index("clip")
        assert rows.loc["clip_000.wav", "copy"], space  # the copy
        assert (rows.loc["clip_000.wav", "track"], rows.loc["clip_000.wav", "segment"]) == ("b", "00002"), space
        assert rows.loc["clip_000.wav", "ratio"] < 0.01, space
        assert not rows.loc[["clip_002.wav", "clip_003.wav"], "copy"].any(), space  # new music is not a copy
        assert (rows.loc[["clip_002.wav", "clip_003.wav"], "ratio"] >= 1).all(), space
        assert (rows["reference"] > 0).all() and rows["track"].isin(["a", "b", "c"]).all(), space
    # Noise is no copy in the primary space. (CREPE's mean frame embedding is not a primary space: it puts this
    # noise nearer the training pieces than held-out pieces in other keys come, cosine 0.37 against 0.48.)
    primary = written[written["primary"]].set_index("clip")
    assert not primary.loc["clip_001.wav", "copy"] and primary.loc["clip_001.wav", "ratio"] > 1
    copied = tmp_path / "eval" / "nearest" / "clip_000.wav"  # the nearest training segment, for the report's player
    assert copied.read_bytes() == (segs / "b" / "00002.wav").read_bytes()
    assert sorted(p.name for p in copied.parent.iterdir()) == [c.name for c in clips]


def test_long_pieces_are_checked_segment_by_segment(tmp_path):
    ds, segs = make_dataset(tmp_path, {"a": "train", "b": "train", "d": "heldout", "e": "heldout"})
    overlap = 800  # samples of crossfade between the generator's segments
    parts = [audio.read_wav(segs / "d" / "00000.wav")[0], audio.read_wav(segs / "a" / "00003.wav")[0],
             audio.read_wav(segs / "e" / "00002.wav")[0]]  # fmt: skip
    piece = tmp_path / "piece_000.wav"
    audio.write_wav(piece, overlap_add(parts, overlap=overlap), SR)
    manifest = pd.DataFrame({"path": [piece], "overlap_seconds": [overlap / SR]})
    out = nearest.copy_check(dataset_dir=ds, segments_root=segs, clips=[], pieces=manifest, perceptual=False,
                             out_csv=tmp_path / "nearest.csv", out_dir=tmp_path / "nearest")  # fmt: skip
    assert out["part"].tolist() == [0, 1, 2] and out["start_seconds"].tolist() == [0.0, 0.4, 0.8]
    assert out["copy"].tolist() == [False, True, False]  # the training segment in the middle, crossfaded in
    assert out.loc[1, ["track", "segment"]].tolist() == ["a", "00003"]
    assert (tmp_path / "nearest" / "piece_000.wav").read_bytes() == (segs / "a" / "00003.wav").read_bytes()


# --------------------------------------------------------------------------- the ratio logic


def test_reference_is_the_closest_heldout_segment_or_a_low_quantile():
    held = np.array([0.9, 0.3, 0.5, 0.7, 1.1])
    assert nearest.reference(held) == 0.3
    assert nearest.reference(held, 0.25) == pytest.approx(0.5)
    assert np.isnan(nearest.reference(np.zeros(0)))
    with pytest.raises(ValueError, match="quantile=0.9"):
        nearest.reference(held, 0.9)


def test_ratio_and_copy_flag():
    ratio, copy = nearest.ratios(np.array([0.0, 0.15, 0.3, 0.3 * (1 - 1e-9), 0.6]), 0.3)
    np.testing.assert_allclose(ratio, [0.0, 0.5, 1.0, 1.0, 2.0])
    assert copy.tolist() == [True, True, False, False, False]  # as close as the closest held-out: not a copy
    ratio, copy = nearest.ratios(np.array([0.0, 0.2]), 0.0)  # a held-out segment duplicates a training one
    assert ratio.tolist() == [1.0, np.inf] and not copy.any()
    ratio, copy = nearest.ratios(np.array([0.0, 0.2]), float("nan"))  # no held-out segment: no reference
    assert np.isnan(ratio).all() and not copy.any()


def test_nearest_distances():
    candidates = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    index, d = nearest.nearest(np.array([[0.0, 1.9], [2.0, 2.0]]), candidates, metric="rms")
    assert index.tolist() == [1, 2]
    np.testing.assert_allclose(d, [0.1 / np.sqrt(2), np.sqrt(2 / 2)])
    index, d = nearest.nearest(np.array([[0.0, 5.0], [2.0, 2.0]]), candidates, metric="cosine")
    assert index.tolist() == [1, 2] and np.allclose(d, 0)  # level-free
    with pytest.raises(ValueError, match="metric='l1'"):
        nearest.nearest(candidates, candidates, metric="l1")
    with pytest.raises(ValueError, match="candidates.shape"):
        nearest.nearest(candidates, candidates[:, :1], metric="rms")


def test_piece_parts_follow_the_longform_joins():
    wave = np.arange(25, dtype=np.float32)
    parts = nearest.piece_parts(wave, segment_samples=10, overlap_samples=2)  # joins every 8 samples
    assert [p[0] for p in parts] == [0, 8, 16] and all(len(p) == 10 for p in parts)
    assert parts[-1].tolist() == [*range(16, 25), 0]  # the piece ends inside its last segment
    assert len(nearest.piece_parts(wave[:10], segment_samples=10, overlap_samples=2)) == 1


def test_primary_space_prefers_a_music_embedding_then_mel():
    assert nearest.primary_space(["mel", "crepe"]) == "mel"
    assert nearest.primary_space(["mel", "crepe", "musicnn"]) == "musicnn"
    assert nearest.primary_space(["crepe"]) == "crepe"
