"""Rule ``generate``: audio from a trained generator, latents -> mels -> Griffin-Lim -> loudness -> WAV
(and MP3/OGG).

Two products, one code path (:class:`Renderer`):

- clips: one segment each, from latent seeds ``seed + i`` (rule ``generate``, here);
- long pieces: a smooth walk through latent space, crossfaded (rule ``longform``,
  :mod:`audiowgan.render.longform`).

``python -m audiowgan.render`` (:mod:`audiowgan.render.__main__`) renders more of either from a trained
model without the workflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiowgan.core import atomic
from audiowgan.core.names import WEIGHTS
from audiowgan.core.settings import AudioSpec, MelSpec
from audiowgan.dsp import audio, inversion
from audiowgan.dsp import mel as features


def latent(seed: int, noise_dim: int, temperature: float = 1.0) -> np.ndarray:
    """The latent vector of one clip: normal with standard deviation ``temperature`` (1: as in training), fixed by its
    seed; a clip's seed gives the same direction at every temperature."""
    return (np.random.default_rng(seed).standard_normal(noise_dim) * temperature).astype(np.float32)


def _read_meta(model_dir: Path, dataset_meta: str | Path | dict | None) -> dict:
    if isinstance(dataset_meta, dict):
        return dataset_meta
    if dataset_meta is not None:
        return json.loads(Path(dataset_meta).read_text())
    record = json.loads((model_dir / "model.json").read_text())
    if "dataset_meta" not in record:
        raise ValueError(f"{model_dir / 'model.json'} records no dataset_meta: pass the dataset's meta.json")
    return record["dataset_meta"]


@dataclass(frozen=True)
class Inverter:
    """Generator-scaled mels ([-1, 1]) to audio with the settings the generator was trained on.

    Apart from :class:`Renderer` because it needs no TensorFlow and no model: the benchmark and the
    tests render exactly the rule's path from any mels. ``workers`` threads share the Griffin-Lim
    loop, a few clips each; the audio is the same for any number. ``backend``: None (numpy) or the
    TensorFlow Griffin-Lim (:func:`audiowgan.nn.griffinlim.gpu_backend`), passed by the caller.
    """

    audio_spec: AudioSpec
    mel_spec: MelSpec
    griffin_lim_iters: int = 32
    method: str = "fast"
    workers: int = 1
    backend: Callable | None = None

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        """(B, segment samples) float32: mels through Griffin-Lim, not yet loudness-normalised."""
        m = self.mel_spec
        waves = inversion.mel_to_audio(
            features.unscale(mels, top_db=m.top_db),
            sample_rate=self.audio_spec.sample_rate,
            n_fft=m.n_fft,
            hop_length=m.hop_length,
            fmin=m.fmin,
            fmax=m.fmax,
            n_iter=self.griffin_lim_iters,
            length=self.audio_spec.segment_samples,
            method=self.method,
            backend=self.backend,
            workers=self.workers,
        )
        return np.atleast_2d(waves).astype(np.float32)


class Renderer:
    """A trained generator and the audio and mel settings it was trained on: latents to audio.

    The sample rate, segment length, STFT and mel settings come from the dataset's meta.json
    (or the copy in model.json), so the audio always matches what the generator learnt.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        weights: str = WEIGHTS["ema"],
        dataset_meta: str | Path | dict | None = None,
        griffin_lim_iters: int = 32,
        inversion_method: str = "fast",
        workers: int = 1,
    ):
        # TensorFlow: here, so that Inverter and render_clips run without it
        from audiowgan.nn import griffinlim, model_files

        self.model_dir, self.weights = Path(model_dir), weights
        self.generator, self.record = model_files.load_generator(self.model_dir, weights=weights)
        self.meta = _read_meta(self.model_dir, dataset_meta)
        self.audio_spec, self.mel_spec = AudioSpec.from_meta(self.meta), MelSpec.from_meta(self.meta)
        self.griffin_lim_iters, self.inversion_method = int(griffin_lim_iters), inversion_method
        # The generator runs on TensorFlow anyway: where it sees a GPU, Griffin-Lim runs there too.
        self.inverter = Inverter(self.audio_spec, self.mel_spec, self.griffin_lim_iters, inversion_method, workers,
                                 backend=griffinlim.gpu_backend())  # fmt: skip
        self.noise_dim = int(self.record["noise_dim"])

    @property
    def sample_rate(self) -> int:
        return self.audio_spec.sample_rate

    @property
    def segment_samples(self) -> int:
        return self.audio_spec.segment_samples

    def weights_sha256(self) -> str:
        return hashlib.sha256((self.model_dir / self.weights).read_bytes()).hexdigest()[:12]

    def mels(self, z: np.ndarray) -> np.ndarray:
        """(B, n_mels, frames) float32 in [-1, 1]: the generator's output for latents ``z`` (B, noise_dim)."""
        return np.asarray(self.generator(np.asarray(z, np.float32), training=False))[..., 0].astype(np.float32)

    def audio(self, mels: np.ndarray) -> np.ndarray:
        """(B, segment samples) float32: mels through Griffin-Lim, not yet loudness-normalised."""
        return self.inverter(mels)


def write_audio(path: str | Path, wave: np.ndarray, sample_rate: int, formats: Iterable[str] = ()) -> list[Path]:
    """The WAV at ``path`` and a compressed copy per format beside it (same stem); returns the copies."""
    audio.write_wav(path, wave, sample_rate)
    return [audio.export_compressed(path, fmt) for fmt in formats]


def provenance(renderer: Renderer, temperature: float = 1.0, **settings) -> dict:
    """The manifest columns naming what made a file: the latents' ``temperature``, the checkpoint (``model_steps``,
    ``weights_sha256``) and ``config_sha256``, a hash of model.json, the renderer's settings and ``settings``. The
    hash leaves the temperature out at 1, so that a render at 1 (the latents of every earlier version) keeps the hash
    those versions gave it."""
    doc = {
        "model": renderer.record,
        "griffin_lim_iters": renderer.griffin_lim_iters,
        "inversion": renderer.inversion_method,
        "weights": renderer.weights,
        **({} if temperature == 1.0 else {"temperature": temperature}),
        **settings,
    }
    return {
        "temperature": temperature,
        "model_steps": renderer.record.get("steps"),
        "weights_sha256": renderer.weights_sha256(),
        "config_sha256": hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12],
    }


def level_row(wave: np.ndarray, sample_rate: int) -> dict:
    return {
        "duration": len(wave) / sample_rate,
        "peak_dbfs": round(audio.peak_dbfs(wave), 2),
        "rms_dbfs": round(audio.rms_dbfs(wave), 2),
    }


def write_manifest(path: str | Path, rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    with atomic.replacing(path) as tmp:
        table.to_csv(tmp, index=False)
    return table


def render_clips(
    batches: Iterable[tuple[list, list[int], np.ndarray]],
    invert: Callable[[np.ndarray], np.ndarray],
    *,
    sample_rate: int,
    target_dbfs: float,
    formats: Iterable[str] = (),
    threads: int = 1,
    log: logging.Logger | None = None,
) -> list[dict]:
    """Everything after the generator: each batch of (paths, seeds, mels) through ``invert``, loudness,
    WAV, and the compressed copies; returns one manifest row per clip (without provenance).

    The copies are ffmpeg processes in a pool of ``threads``, started as soon as their WAV is written,
    so they encode while the next batch is inverted; each copy is the same file as a serial export.
    """
    log = log or logging.getLogger(__name__)
    formats, rows, copies = list(formats), [], []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for paths, seeds, mels in batches:
            for path, s, wave in zip(paths, seeds, invert(mels)):
                wave = audio.normalise_loudness(wave, target_dbfs=target_dbfs)
                audio.write_wav(path, wave, sample_rate)
                copies += [pool.submit(audio.export_compressed, path, fmt) for fmt in formats]
                rows.append({"clip": Path(path).name, "seed": s, **level_row(wave, sample_rate)})
                log.info(
                    "%s: seed %d, %.2f s, rms %.1f dBFS, peak %.1f dBFS",
                    rows[-1]["clip"],
                    s,
                    rows[-1]["duration"],
                    rows[-1]["rms_dbfs"],
                    rows[-1]["peak_dbfs"],
                )
        for copy in copies:
            copy.result()  # re-raises an encoder's failure here, in the job
    return rows


def generate(
    *,
    model_dir: str | Path,
    dataset_meta: str | Path | dict | None,
    clips: list[str | Path],
    manifest: str | Path,
    seed: int,
    griffin_lim_iters: int,
    target_dbfs: float,
    inversion_method: str = "fast",
    weights: str = WEIGHTS["ema"],
    temperature: float = 1.0,
    formats: Iterable[str] = (),
    mels_out: str | Path | None = None,
    batch_size: int = 16,
    threads: int = 1,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write one WAV per path in ``clips`` (clip i from latent seed ``seed + i``, at ``temperature``) and a manifest
    CSV.

    The sample rate, STFT and mel settings come from the dataset's ``meta.json`` (``None``: the
    copy in model.json), so clips always match what the generator was trained on. ``formats``
    (``mp3``, ``ogg``) adds compressed copies beside each WAV. ``mels_out``, if given, receives
    the generator's raw output, (n_clips, n_mels, frames) float32 in [-1, 1], for evaluation
    without TensorFlow. The manifest names the checkpoint each clip came from (``model_steps``,
    ``weights_sha256``) and ``config_sha256``, a hash of everything else that shaped it:
    model.json (architecture, training settings, dataset parameters) and the generation settings.
    ``threads`` (the job's) share the Griffin-Lim loop and run the compressed copies' encoders.
    """
    log = log or logging.getLogger(__name__)
    r = Renderer(
        model_dir,
        weights=weights,
        dataset_meta=dataset_meta,
        griffin_lim_iters=griffin_lim_iters,
        inversion_method=inversion_method,
        workers=threads,
    )
    common = provenance(r, temperature, target_dbfs=target_dbfs)
    raw = []

    def batches() -> Iterator[tuple[list, list[int], np.ndarray]]:
        for start in range(0, len(clips), batch_size):
            paths = clips[start : start + batch_size]
            seeds = [seed + start + k for k in range(len(paths))]
            raw.append(r.mels(np.stack([latent(s, r.noise_dim, temperature) for s in seeds])))
            yield paths, seeds, raw[-1]

    rows = render_clips(
        batches(),
        r.audio,
        sample_rate=r.sample_rate,
        target_dbfs=target_dbfs,
        formats=formats,
        threads=threads,
        log=log,
    )
    rows = [{**row, **common} for row in rows]
    table = write_manifest(manifest, rows)
    if mels_out is not None:
        with atomic.replacing(mels_out) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(raw))
    return table
