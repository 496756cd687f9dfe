"""Evaluate generated clips against held-out real segments: results/eval/metrics.json.

Every Frechet distance (FD) here compares Gaussian fits of mel frames with the same
reference, half A of the held-out segments, and every compared set has the same
number of items (hence frames), so the values share one small-sample bias and can
be read side by side:

- ``generated``: mels recomputed from the clip WAVs, what a listener hears
  (generator and Griffin-Lim together);
- ``generator_output``: the generator's own mels, before inversion;
- ``real_vs_real``: half B of the held-out segments, the floor a perfect model reaches;
- ``noise_vs_real``: i.i.d. uniform noise on [-1, 1], a model that learnt nothing.

The Griffin-Lim round-trip error on held-out segments tells inversion error from
model error. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic, audio, dataset, features, metrics
from .settings import AudioSpec, MelSpec

NOISE = "uniform"  # i.i.d. per mel bin on [-1, 1], the scale of every stored mel
FEATURES = "mel frames in [-1, 1] (one n_mels-dimensional sample per frame), Gaussian fit per set"
ROUND_TRIP_MEASURE = "spectral convergence ||S - S_hat||_F / ||S||_F of the STFT magnitude (0 is perfect)"


def _mel_args(meta: dict) -> dict:
    """The sample rate and mel settings a dataset was made with (its meta.json), as keyword arguments."""
    return {"sample_rate": AudioSpec.from_meta(meta).sample_rate, **MelSpec.from_meta(meta).stft_args()}


def clip_mels(clips: list[str | Path], meta: dict) -> np.ndarray:
    """Scaled mels (N, n_mels, frames) of WAV files, with the dataset's parameters and length."""
    args, length = _mel_args(meta), AudioSpec.from_meta(meta).segment_samples
    out = []
    for clip in clips:
        samples, sr = audio.read_wav(clip)
        if sr != args["sample_rate"]:
            raise ValueError(f"{clip} is at {sr} Hz, the dataset at {args['sample_rate']} Hz")
        samples = np.pad(samples[:length], (0, max(0, length - len(samples))))
        out.append(features.mel(samples, top_db=float(meta["top_db"]), **args))
    return np.stack(out)


def split_halves(rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle held-out rows with ``seed`` and cut them into halves A (reference) and B, each sorted."""
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[np.random.default_rng(seed).permutation(len(rows))]
    half = len(rows) // 2
    return np.sort(rows[:half]), np.sort(rows[half : 2 * half])


def _fd(x: np.ndarray, reference: np.ndarray) -> float:
    return round(metrics.frechet_distance(metrics.mel_frame_stats(x), metrics.mel_frame_stats(reference)), 6)


def evaluate(
    *,
    dataset_dir: str | Path,
    segments_root: str | Path,
    clips: list[str | Path],
    generator_mels: str | Path | None,
    out: str | Path,
    seed: int,
    round_trip_segments: int,
    griffin_lim_iters: int,
    inversion_method: str,
    log: logging.Logger | None = None,
) -> dict:
    """Write ``out`` (metrics.json) and return it.

    Parameters
    ----------
    dataset_dir : results/dataset (mels.npy, index.csv with its ``split`` column, meta.json)
    segments_root : results/segments, holding ``{track}/{segment}.wav``
    clips : generated WAVs; generator_mels : their raw mels (N, n_mels, frames) ``.npy``, or None
    seed : splits the held-out rows into halves and draws the noise
    round_trip_segments : at most this many held-out segments go through the Griffin-Lim round trip
    griffin_lim_iters, inversion_method : as in ``generate``, so the round trip matches the clips
    """
    log = log or logging.getLogger(__name__)
    mels, meta = dataset.open_dataset(dataset_dir)
    heldout = dataset.split_rows(dataset_dir, "heldout")
    a_rows, b_rows = split_halves(heldout, seed)
    n = min(len(b_rows), len(clips))  # items per compared set: equal sizes, equal FD bias
    result: dict = {
        "status": "ok",
        "reason": None,
        "features": FEATURES,
        "noise": NOISE,
        "split": {
            "heldout_segments": int(len(heldout)),
            "reference_a": int(len(a_rows)),
            "compare_b": int(len(b_rows)),
            "items_per_set": int(n),
            "frames_per_item": int(meta["frames"]),
            "seed": int(seed),
        },  # fmt: skip
        "frechet_distance": dict.fromkeys(("generated", "generator_output", "real_vs_real", "noise_vs_real")),
        "round_trip": {
            "mean": None,
            "std": None,
            "max": None,
            "n_segments": 0,
            "method": inversion_method,
            "n_iter": int(griffin_lim_iters),
            "measure": ROUND_TRIP_MEASURE,
        },  # fmt: skip
    }
    if len(heldout) < 2 or n < 1:
        result["status"] = "skipped"
        result["reason"] = (
            f"{len(heldout)} held-out segment(s) and {len(clips)} clip(s): the Frechet distances need at least "
            "2 held-out segments (two halves) and 1 clip; raise evaluate.holdout_fraction or add audio"
        )
        log.warning("Frechet distances skipped: %s", result["reason"])
    else:
        reference = np.asarray(mels[a_rows])
        fd = result["frechet_distance"]
        fd["generated"] = _fd(clip_mels(clips[:n], meta), reference)
        if generator_mels is not None:
            fd["generator_output"] = _fd(np.load(generator_mels)[:n], reference)
        fd["real_vs_real"] = _fd(np.asarray(mels[b_rows[:n]]), reference)
        noise = np.random.default_rng([seed, 1]).uniform(-1.0, 1.0, size=(n, *mels.shape[1:])).astype(np.float32)
        fd["noise_vs_real"] = _fd(noise, reference)
        log.info("Frechet distances against %d reference segment(s), %d item(s) each: %s", len(a_rows), n, fd)
    result["round_trip"].update(_round_trip(dataset_dir, segments_root, heldout[:round_trip_segments], meta,
                                            n_iter=griffin_lim_iters, method=inversion_method, seed=seed, log=log))  # fmt: skip
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result


def _round_trip(dataset_dir, segments_root, rows, meta, *, n_iter, method, seed, log) -> dict:
    if len(rows) == 0:
        log.warning("no held-out segment: Griffin-Lim round-trip error skipped")
        return {}
    index = pd.read_csv(Path(dataset_dir) / "index.csv", dtype={"track": str, "segment": str}).set_index("row")
    waves = []
    for row in rows:
        samples, _ = audio.read_wav(Path(segments_root) / index.at[row, "track"] / f"{index.at[row, 'segment']}.wav")
        waves.append(samples)
    errors = metrics.griffin_lim_round_trip_error(
        np.stack(waves), top_db=float(meta["top_db"]), n_iter=n_iter, method=method, seed=seed, **_mel_args(meta)
    )
    log.info("Griffin-Lim round trip (%s, %d iterations) on %d held-out segment(s): mean %.4f", method, n_iter,
             len(errors), errors.mean())  # fmt: skip
    return {
        "mean": round(float(errors.mean()), 6), "std": round(float(errors.std()), 6),
        "max": round(float(errors.max()), 6), "n_segments": int(len(errors)),
    }  # fmt: skip
