"""Render clips from a trained generator: latent seeds -> mels -> Griffin-Lim -> loudness -> WAV."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic, audio, features, inversion, model
from .settings import AudioSpec, MelSpec


def latent(seed: int, noise_dim: int) -> np.ndarray:
    """The latent vector of one clip: standard normal, fixed by its seed."""
    return np.random.default_rng(seed).standard_normal(noise_dim).astype(np.float32)


def generate(
    *,
    model_dir: str | Path,
    dataset_meta: str | Path,
    clips: list[str | Path],
    manifest: str | Path,
    seed: int,
    griffin_lim_iters: int,
    target_dbfs: float,
    inversion_method: str = "fast",
    weights: str = "generator_ema.weights.h5",
    mels_out: str | Path | None = None,
    batch_size: int = 16,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write one WAV per path in ``clips`` (clip i from latent seed ``seed + i``) and a manifest CSV.

    The sample rate, STFT and mel settings come from the dataset's ``meta.json``,
    so clips always match what the generator was trained on. ``mels_out``, if given,
    receives the generator's raw output, (n_clips, n_mels, frames) float32 in [-1, 1],
    for evaluation without TensorFlow. The manifest names the checkpoint each clip
    came from (``model_steps``, ``weights_sha256``) and ``config_sha256``, a hash of
    everything else that shaped it: model.json (architecture, training settings,
    dataset parameters) and the generation settings.
    """
    log = log or logging.getLogger(__name__)
    generator, record = model.load_generator(model_dir, weights=weights)
    meta = json.loads(Path(dataset_meta).read_text())
    audio_spec, mel_spec = AudioSpec.from_meta(meta), MelSpec.from_meta(meta)
    sr, length = audio_spec.sample_rate, audio_spec.segment_samples
    settings = {"model": record, "griffin_lim_iters": griffin_lim_iters, "inversion": inversion_method,
                "target_dbfs": target_dbfs, "weights": weights}  # fmt: skip
    config_hash = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    weights_hash = hashlib.sha256(Path(model_dir, weights).read_bytes()).hexdigest()[:12]
    rows, raw = [], []
    for start in range(0, len(clips), batch_size):
        paths = clips[start : start + batch_size]
        seeds = [seed + start + k for k in range(len(paths))]
        z = np.stack([latent(s, int(record["noise_dim"])) for s in seeds])
        mels = np.asarray(generator(z, training=False))[..., 0]  # (B, n_mels, frames) in [-1, 1]
        raw.append(mels.astype(np.float32))
        power = features.unscale(mels, top_db=mel_spec.top_db)
        waves = inversion.mel_to_audio(
            power, sample_rate=sr, n_fft=mel_spec.n_fft, hop_length=mel_spec.hop_length, fmin=mel_spec.fmin,
            fmax=mel_spec.fmax, n_iter=griffin_lim_iters, length=length, method=inversion_method,
        )  # fmt: skip
        for path, s, wave in zip(paths, seeds, np.atleast_2d(waves)):
            wave = audio.normalise_loudness(wave, target_dbfs=target_dbfs)
            audio.write_wav(path, wave, sr)
            rows.append({
                "clip": Path(path).name, "seed": s, "duration": len(wave) / sr,
                "peak_dbfs": round(audio.peak_dbfs(wave), 2), "rms_dbfs": round(audio.rms_dbfs(wave), 2),
                "model_steps": record.get("steps"), "weights_sha256": weights_hash, "config_sha256": config_hash,
            })  # fmt: skip
            log.info("%s: seed %d, %.2f s, rms %.1f dBFS, peak %.1f dBFS", rows[-1]["clip"], s,
                     rows[-1]["duration"], rows[-1]["rms_dbfs"], rows[-1]["peak_dbfs"])  # fmt: skip
    table = pd.DataFrame(rows)
    with atomic.replacing(manifest) as tmp:
        table.to_csv(tmp, index=False)
    if mels_out is not None:
        with atomic.replacing(mels_out) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(raw))
    return table
