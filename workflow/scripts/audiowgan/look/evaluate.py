"""Evaluate generated clips against held-out real segments: results/eval/metrics.json.

Every Frechet distance (FD) here compares Gaussian fits of mel frames with the same
reference, half A of the held-out segments, and every compared set has the same
number of items (hence frames), so the values share one small-sample bias and can
be read side by side:

- ``generated``: mels recomputed from the clip WAVs, what a listener hears
  (generator and Griffin-Lim together);
- ``generator_output``: the generator's own mels, before inversion;
- ``real_vs_real``: half B of the held-out segments, the floor a perfect model reaches;
- ``noise_vs_real``: i.i.d. uniform noise on [-1, 1] in mel space, a model that learnt nothing;
- ``white_noise_vs_real``, ``pink_noise_vs_real``: white and pink (1/f) noise audio, through the
  same mel as the clips: a generator that learnt only the loudness or the spectral tilt.

With ``perceptual`` (on in the workflow), the same sets are also compared in the embedding space of a
pretrained pitch network (CREPE, :mod:`audiowgan.nn.crepe`): a Frechet and an unbiased kernel distance on its
frame embeddings, a second opinion from features the GAN was never trained on. That part imports
TensorFlow.

Held-out segments come from whole tracks the model never saw (``dataset.split_holdout``), or, when
no whole track is near the hold-out fraction (one track, or a few long ones), from a block at the
end of each track; ``split.by`` in metrics.json says which (``track`` or ``end-blocks``) and
``split.holdout_reason`` why. Overlapping training segments next to an end block are dropped
(``split.boundary_dropped``), so no held-out segment shares audio with one the model trained on.

The Griffin-Lim round-trip error on held-out segments tells inversion error from
model error. Nothing here imports TensorFlow but the perceptual part (inside
:func:`perceptual_distances`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from audiowgan.core import atomic
from audiowgan.core.settings import AudioSpec
from audiowgan.data import pack as dataset
from audiowgan.dsp import audio
from audiowgan.dsp import mel as features
from audiowgan.look import distances as metrics

FD_KEYS = (
    "generated",
    "generator_output",
    "real_vs_real",
    "noise_vs_real",
    "white_noise_vs_real",
    "pink_noise_vs_real",
)
NOISE = "uniform"  # i.i.d. per mel bin on [-1, 1], the scale of every stored mel
FEATURES = "mel frames in [-1, 1] (one n_mels-dimensional sample per frame), Gaussian fit per set"
ROUND_TRIP_MEASURE = "spectral convergence ||S - S_hat||_F / ||S||_F of the STFT magnitude (0 is perfect)"


def split_halves(rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle held-out rows with ``seed`` and cut them into halves A (reference) and B, each sorted."""
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[np.random.default_rng(seed).permutation(len(rows))]
    half = len(rows) // 2
    return np.sort(rows[:half]), np.sort(rows[half : 2 * half])


def compared_rows(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` of ``rows`` drawn with ``seed``, sorted: a compared set that spans every held-out track.

    Not the first ``n``: rows are in track order, so those would come from the first track or two and
    make the real-vs-real floor (and the inversion ceiling) a comparison of one track with all of them.
    """
    rows = np.asarray(rows, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(rows, size=min(int(n), len(rows)), replace=False))


def _holdout_account(meta: dict) -> dict:
    """How pack chose the held-out segments (its meta.json ``holdout``), for metrics.json's ``split``."""
    holdout = meta.get("holdout", {})
    return {
        "by": holdout.get("by"),
        "heldout_tracks": holdout.get("tracks", []),
        "holdout_reason": holdout.get("reason"),
        "boundary_dropped": holdout.get("boundary_dropped", 0),
    }


def _fd(x: np.ndarray, reference: np.ndarray) -> float:
    return round(metrics.frechet_distance(metrics.mel_frame_stats(x), metrics.mel_frame_stats(reference)), 6)


def noise_waves(kind: str, *, n: int, length: int, seed: int) -> np.ndarray:
    """(n, length) float32 noise at -20 dBFS RMS: ``white`` (flat spectrum) or ``pink`` (power ~ 1/f)."""
    rng = np.random.default_rng([seed, {"white": 2, "pink": 3}[kind]])
    white = rng.standard_normal((n, length))
    if kind == "pink":
        spectrum = np.fft.rfft(white, axis=1)
        f = np.arange(spectrum.shape[1], dtype=np.float64)
        f[0] = 1.0
        white = np.fft.irfft(spectrum / np.sqrt(f), n=length, axis=1)
    rms = np.sqrt(np.mean(white**2, axis=1, keepdims=True))
    return (white / rms * 10 ** (-20 / 20)).astype(np.float32)


def segment_waves(dataset_dir: str | Path, segments_root: str | Path, rows: np.ndarray) -> np.ndarray:
    """(len(rows), samples) audio of dataset rows, read from their segment WAVs."""
    index = pd.read_csv(Path(dataset_dir) / "index.csv", dtype={"track": str, "segment": str}).set_index("row")
    return np.stack(
        [audio.read_wav(Path(segments_root) / index.at[r, "track"] / f"{index.at[r, 'segment']}.wav")[0] for r in rows]
    )


def perceptual_distances(reference: np.ndarray, sets: dict[str, np.ndarray], *, sample_rate: int, seed: int) -> dict:
    """Frechet and kernel distances of each set's CREPE frame embeddings to the reference's (rounded)."""
    from audiowgan.nn import crepe  # TensorFlow: only when the perceptual distances are asked for

    ref = crepe.clip_embeddings(reference, sample_rate=sample_rate)  # embedded once for every set
    out: dict = {"frechet": {}, "kernel": {}, "embedding": crepe.describe(), "reference_frames": len(ref)}
    for name, waves in sets.items():
        emb = crepe.clip_embeddings(waves, sample_rate=sample_rate)
        fd, kd = metrics.frechet_distance(emb, ref), metrics.kernel_distance(emb, ref, seed=seed)
        out["frechet"][name], out["kernel"][name] = round(fd, 6), round(kd, 6)
    return out


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
    perceptual: bool = False,
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
    perceptual : also compute the CREPE-embedding distances (imports TensorFlow)
    """
    log = log or logging.getLogger(__name__)
    mels, meta = dataset.open_dataset(dataset_dir)
    heldout = dataset.distinct_rows(dataset_dir, "heldout", AudioSpec.from_meta(meta).span_hops)
    a_rows, b_rows = split_halves(heldout, seed)
    n = min(len(b_rows), len(clips))  # items per compared set: equal sizes, equal FD bias
    split = {
        "heldout_segments": int(len(dataset.split_rows(dataset_dir, "heldout"))),
        "distinct_heldout_segments": int(len(heldout)),  # of them, those sharing no audio (overlapping segments)
        "reference_a": int(len(a_rows)),
        "compare_b": int(len(b_rows)),
        "items_per_set": int(n),
        "frames_per_item": int(meta["frames"]),
        "seed": int(seed),
        **_holdout_account(meta),
    }
    result = _result(split, inversion_method=inversion_method, griffin_lim_iters=griffin_lim_iters)
    if len(heldout) < 2 or n < 1:
        result["status"] = "skipped"
        result["reason"] = (
            f"{len(heldout)} held-out segment(s) and {len(clips)} clip(s): the Frechet distances need at least "
            "2 held-out segments (two halves) and 1 clip; raise evaluate.holdout_fraction or add audio"
        )
        log.warning("Frechet distances skipped: %s", result["reason"])
    else:
        generated = features.read_clips(clips[:n], meta)  # read once: the mel FD and the perceptual distances
        noises = _frechet_distances(
            result["frechet_distance"], mels, meta, a_rows, b_rows[:n], generated, generator_mels, seed=seed
        )
        log.info("Frechet distances against %d reference segment(s), %d item(s) each: %s", len(a_rows), n,
                 result["frechet_distance"])  # fmt: skip
        if perceptual:
            sets = {"generated": generated, "real_vs_real": segment_waves(dataset_dir, segments_root, b_rows[:n]),
                    **noises}  # fmt: skip
            result["perceptual"] = perceptual_distances(
                segment_waves(dataset_dir, segments_root, a_rows), sets,
                sample_rate=AudioSpec.from_meta(meta).sample_rate, seed=seed,
            )  # fmt: skip
            log.info("CREPE-embedding distances: Frechet %s, kernel %s", result["perceptual"]["frechet"],
                     result["perceptual"]["kernel"])  # fmt: skip
    result["round_trip"].update(
        _round_trip(
            dataset_dir,
            segments_root,
            heldout[:round_trip_segments],
            meta,
            n_iter=griffin_lim_iters,
            method=inversion_method,
            seed=seed,
            log=log,
        )  # fmt: skip
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result


def _result(split: dict, *, inversion_method: str, griffin_lim_iters: int) -> dict:
    """metrics.json before anything is measured: every key there, its values None."""
    return {
        "status": "ok",
        "reason": None,
        "features": FEATURES,
        "noise": NOISE,
        "split": split,
        "frechet_distance": dict.fromkeys(FD_KEYS),
        "perceptual": None,
        "round_trip": {
            "mean": None,
            "std": None,
            "max": None,
            "n_segments": 0,
            "method": inversion_method,
            "n_iter": int(griffin_lim_iters),
            "measure": ROUND_TRIP_MEASURE,
        },
    }


def _frechet_distances(fd: dict, mels, meta: dict, a_rows, b_rows, generated, generator_mels, *, seed: int) -> dict:
    """Fill ``fd`` with the mel-frame Frechet distances of each set to reference half A; return the noise waves
    (white and pink), for the perceptual distances. ``b_rows``: the n rows of half B that are compared."""
    n = len(b_rows)
    reference = np.asarray(mels[a_rows])
    fd["generated"] = _fd(features.waves_mels(generated, meta), reference)
    if generator_mels is not None:
        fd["generator_output"] = _fd(np.load(generator_mels)[:n], reference)
    fd["real_vs_real"] = _fd(np.asarray(mels[b_rows]), reference)
    noise = np.random.default_rng([seed, 1]).uniform(-1.0, 1.0, size=(n, *mels.shape[1:])).astype(np.float32)
    fd["noise_vs_real"] = _fd(noise, reference)
    length = AudioSpec.from_meta(meta).segment_samples
    noises = {f"{k}_noise_vs_real": noise_waves(k, n=n, length=length, seed=seed) for k in ("white", "pink")}
    for key, waves in noises.items():
        fd[key] = _fd(features.waves_mels(waves, meta), reference)
    return noises


def _round_trip(dataset_dir, segments_root, rows, meta, *, n_iter, method, seed, log) -> dict:
    if len(rows) == 0:
        log.warning("no held-out segment: Griffin-Lim round-trip error skipped")
        return {}
    errors = metrics.griffin_lim_round_trip_error(
        segment_waves(dataset_dir, segments_root, rows),
        top_db=float(meta["top_db"]),
        n_iter=n_iter,
        method=method,
        seed=seed,
        **features.meta_mel_args(meta),
    )
    log.info(
        "Griffin-Lim round trip (%s, %d iterations) on %d held-out segment(s): mean %.4f",
        method,
        n_iter,
        len(errors),
        errors.mean(),
    )
    return {
        "mean": round(float(errors.mean()), 6),
        "std": round(float(errors.std()), 6),
        "max": round(float(errors.max()), 6),
        "n_segments": int(len(errors)),
    }
