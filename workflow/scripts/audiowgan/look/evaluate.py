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
  same mel as the clips: a generator that learnt only the loudness or the spectral tilt;
- ``inversion_ceiling``: the compared half-B segments taken through their own mels and the same
  inversion as ``generate`` (method, iterations, loudness): a generator that made exactly the real mels.
  Its distance above ``real_vs_real`` is the inversion's share of the gap, ``generated`` above it the
  generator's.

``clip_spread`` holds what pooled frames cannot show (:func:`audiowgan.look.distances.clip_spread`): how much
the generated clips differ from each other in their mean spectrum (``between``) and how much each clip's bands
move over its length (``within``), beside the same two numbers for the compared real segments and their ratios
(1 is as real music; clips that each drift through every texture have the frames of clips that each hold one).

With ``perceptual`` (on in the workflow), the same sets are also compared in the embedding space of each
pretrained network of :data:`audiowgan.look.embedders.EMBEDDERS` (CREPE, a pitch network, today): a Frechet and
an unbiased kernel distance on its frame embeddings, a second opinion from features the GAN was never
trained on. That part imports TensorFlow.

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
from audiowgan.look import embedders

FD_KEYS = (
    "generated",
    "generator_output",
    "real_vs_real",
    "noise_vs_real",
    "white_noise_vs_real",
    "pink_noise_vs_real",
    "inversion_ceiling",
)
NOISE = "uniform"  # i.i.d. per mel bin on [-1, 1], the scale of every stored mel
FEATURES = "mel frames in [-1, 1] (one n_mels-dimensional sample per frame), Gaussian fit per set"
SPREAD_MEASURE = (
    "between: the std over clips of each clip's mean mel spectrum, averaged over bands; within: each band's std over "
    "a clip's frames, averaged over bands and clips (mels in [-1, 1])"
)
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


def perceptual_distances(
    reference: np.ndarray, sets: dict[str, np.ndarray], *, sample_rate: int, seed: int, names: list[str] | None = None
) -> dict:
    """``{embedder: {frechet, kernel, embedding, reference_frames}}``: the Frechet and kernel distances of each
    set's frame embeddings to the reference's, for every embedder in ``names`` (default: the whole table)."""
    return {
        name: _embedding_distances(embedders.module(name), reference, sets, sample_rate=sample_rate, seed=seed)
        for name in (embedders.names() if names is None else names)
    }


def _embedding_distances(embedder, reference: np.ndarray, sets: dict, *, sample_rate: int, seed: int) -> dict:
    ref = embedder.clip_embeddings(reference, sample_rate=sample_rate)  # embedded once for every set
    out: dict = {"frechet": {}, "kernel": {}, "embedding": embedder.describe(), "reference_frames": len(ref)}
    for name, waves in sets.items():
        emb = embedder.clip_embeddings(waves, sample_rate=sample_rate)
        if min(len(emb), len(ref)) < 2:  # musicnn gives one row per short clip: a tiny hold-out has too few
            out["frechet"][name] = out["kernel"][name] = None
            out["reason"] = f"{min(len(emb), len(ref))} embedding row(s) in a set: both distances need at least 2"
            continue
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
    target_dbfs: float = -20.0,
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
    round_trip_segments : at most this many held-out segments go through the Griffin-Lim round trip (the
        compared half-B segments, whose round trip is also the ``inversion_ceiling`` set)
    griffin_lim_iters, inversion_method, target_dbfs : as in ``generate``, so the round trip matches the clips
    perceptual : also compute the distances in every embedder's space (imports TensorFlow)
    """
    log = log or logging.getLogger(__name__)
    mels, meta = dataset.open_dataset(dataset_dir)
    heldout = dataset.distinct_rows(dataset_dir, "heldout", AudioSpec.from_meta(meta).span_hops)
    a_rows, b_rows = split_halves(heldout, seed)
    n = min(len(b_rows), len(clips))  # items per compared set: equal sizes, equal FD bias
    compared = compared_rows(b_rows, n, seed)  # half B's real-vs-real set, spread over every held-out track
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
    compare = len(heldout) >= 2 and n >= 1
    # One round trip serves both the error and the ceiling: the compared half-B rows when there are distances.
    rt_rows = compared_rows(compared if compare else heldout, round_trip_segments, seed)
    stats, ceiling = _round_trip(
        dataset_dir, segments_root, rt_rows, meta, n_iter=griffin_lim_iters, method=inversion_method, seed=seed,
        target_dbfs=target_dbfs, log=log,
    )  # fmt: skip
    result["round_trip"].update(stats)
    if not compare:
        result["status"] = "skipped"
        result["reason"] = (
            f"{len(heldout)} held-out segment(s) and {len(clips)} clip(s): the Frechet distances need at least "
            "2 held-out segments (two halves) and 1 clip; raise evaluate.holdout_fraction or add audio"
        )
        log.warning("Frechet distances skipped: %s", result["reason"])
    else:
        generated = features.read_clips(clips[:n], meta)  # read once: the mel FD and the perceptual distances
        generated_mels = features.waves_mels(generated, meta)
        waves = _frechet_distances(
            result["frechet_distance"], mels, meta, a_rows, compared, generated_mels, generator_mels, seed=seed
        )
        result["clip_spread"] = clip_spreads(generated_mels, np.asarray(mels[compared]))
        waves["inversion_ceiling"] = ceiling
        result["frechet_distance"]["inversion_ceiling"] = _fd(features.waves_mels(ceiling, meta), mels[a_rows])
        log.info("Frechet distances against %d reference segment(s), %d item(s) each: %s", len(a_rows), n,
                 result["frechet_distance"])  # fmt: skip
        if perceptual:
            sets = {"generated": generated, "real_vs_real": segment_waves(dataset_dir, segments_root, compared),
                    **waves}  # fmt: skip
            result["perceptual"] = perceptual_distances(
                segment_waves(dataset_dir, segments_root, a_rows), sets,
                sample_rate=AudioSpec.from_meta(meta).sample_rate, seed=seed,
            )  # fmt: skip
            for name, d in result["perceptual"].items():
                log.info("%s-embedding distances: Frechet %s, kernel %s", name, d["frechet"], d["kernel"])
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
        "clip_spread": None,
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


def _frechet_distances(
    fd: dict, mels, meta: dict, a_rows, b_rows, generated_mels, generator_mels, *, seed: int
) -> dict:
    """Fill ``fd`` with the mel-frame Frechet distances of each set to reference half A; return the noise waves
    (white and pink), for the perceptual distances. ``b_rows``: the n rows of half B that are compared;
    ``generated_mels``: the clips' mels, recomputed from their audio."""
    n = len(b_rows)
    reference = np.asarray(mels[a_rows])
    fd["generated"] = _fd(generated_mels, reference)
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


def clip_spreads(generated_mels: np.ndarray, real_mels: np.ndarray) -> dict | None:
    """metrics.json's ``clip_spread``: the two sets' spreads and generated over real (None with fewer than 2 clips,
    where clips cannot differ)."""
    if min(len(generated_mels), len(real_mels)) < 2:
        return None
    generated, real = metrics.clip_spread(generated_mels), metrics.clip_spread(real_mels)
    ratio = {k: round(generated[k] / real[k], 4) if real[k] > 0 else None for k in generated}
    return {
        "generated": {k: round(v, 6) for k, v in generated.items()},
        "real_vs_real": {k: round(v, 6) for k, v in real.items()},
        "generated_over_real": ratio,
        "measure": SPREAD_MEASURE,
    }


def _round_trip(dataset_dir, segments_root, rows, meta, *, n_iter, method, seed, target_dbfs, log):
    """The round-trip error's statistics and the round-tripped audio at the clips' loudness (None without rows)."""
    if len(rows) == 0:
        log.warning("no held-out segment: Griffin-Lim round-trip error skipped")
        return {}, None
    waves, errors = metrics.griffin_lim_round_trip(
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
    stats = {
        "mean": round(float(errors.mean()), 6),
        "std": round(float(errors.std()), 6),
        "max": round(float(errors.max()), 6),
        "n_segments": int(len(errors)),
    }
    return stats, np.stack([audio.normalise_loudness(w, target_dbfs=target_dbfs) for w in waves])
