"""Render audio from a trained generator: latents -> mels -> Griffin-Lim -> loudness -> WAV (and MP3/OGG).

Two products, one code path (:class:`Renderer`):

- clips: one segment each, from latent seeds ``seed + i`` (rule ``generate``);
- long pieces: a smooth walk through latent space (spherical interpolation between seeded
  points), one segment per step, joined by overlap-add with an equal-power crossfade (rule
  ``longform``). Segments are generated and inverted a few at a time and added into the piece as
  they come, so memory grows with the piece's length, never with its length times a batch.

``python -m audiowgan.generate`` renders more of either from a trained model without the workflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic, audio, features, inversion
from .settings import AudioSpec, LongformSpec, MelSpec


def latent(seed: int, noise_dim: int) -> np.ndarray:
    """The latent vector of one clip: standard normal, fixed by its seed."""
    return np.random.default_rng(seed).standard_normal(noise_dim).astype(np.float32)


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
    loop, a few clips each; the audio is the same for any number.
    """

    audio_spec: AudioSpec
    mel_spec: MelSpec
    griffin_lim_iters: int = 32
    method: str = "fast"
    workers: int = 1

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
        weights: str = "generator_ema.weights.h5",
        dataset_meta: str | Path | dict | None = None,
        griffin_lim_iters: int = 32,
        inversion_method: str = "fast",
        workers: int = 1,
    ):
        from . import model  # TensorFlow: here, so that Inverter and render_clips run without it

        self.model_dir, self.weights = Path(model_dir), weights
        self.generator, self.record = model.load_generator(self.model_dir, weights=weights)
        self.meta = _read_meta(self.model_dir, dataset_meta)
        self.audio_spec, self.mel_spec = AudioSpec.from_meta(self.meta), MelSpec.from_meta(self.meta)
        self.griffin_lim_iters, self.inversion_method = int(griffin_lim_iters), inversion_method
        self.inverter = Inverter(self.audio_spec, self.mel_spec, self.griffin_lim_iters, inversion_method, workers)
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


def _provenance(renderer: Renderer, **settings) -> dict:
    """The manifest columns naming what made a file: the checkpoint (``model_steps``, ``weights_sha256``) and
    ``config_sha256``, a hash of model.json, the renderer's settings and ``settings``."""
    doc = {
        "model": renderer.record,
        "griffin_lim_iters": renderer.griffin_lim_iters,
        "inversion": renderer.inversion_method,
        "weights": renderer.weights,
        **settings,
    }
    return {
        "model_steps": renderer.record.get("steps"),
        "weights_sha256": renderer.weights_sha256(),
        "config_sha256": hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12],
    }


def _level_row(wave: np.ndarray, sample_rate: int) -> dict:
    return {
        "duration": len(wave) / sample_rate,
        "peak_dbfs": round(audio.peak_dbfs(wave), 2),
        "rms_dbfs": round(audio.rms_dbfs(wave), 2),
    }


def _write_manifest(path: str | Path, rows: list[dict]) -> pd.DataFrame:
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
                rows.append({"clip": Path(path).name, "seed": s, **_level_row(wave, sample_rate)})
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
    weights: str = "generator_ema.weights.h5",
    formats: Iterable[str] = (),
    mels_out: str | Path | None = None,
    batch_size: int = 16,
    threads: int = 1,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write one WAV per path in ``clips`` (clip i from latent seed ``seed + i``) and a manifest CSV.

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
    common = _provenance(r, target_dbfs=target_dbfs)
    raw = []

    def batches() -> Iterator[tuple[list, list[int], np.ndarray]]:
        for start in range(0, len(clips), batch_size):
            paths = clips[start : start + batch_size]
            seeds = [seed + start + k for k in range(len(paths))]
            raw.append(r.mels(np.stack([latent(s, r.noise_dim) for s in seeds])))
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
    table = _write_manifest(manifest, rows)
    if mels_out is not None:
        with atomic.replacing(mels_out) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(raw))
    return table


# --------------------------------------------------------------------------------------------- long pieces


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1) along the great circle between them.

    Gaussian latents concentrate near a sphere; a straight line between two of them passes
    through the low-norm interior the generator rarely saw in training (White 2016, "Sampling
    generative networks"). The norm is interpolated linearly. Nearly parallel vectors fall back
    to linear interpolation.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = np.clip(np.dot(a, b) / max(na * nb, 1e-12), -1.0, 1.0)
    omega = math.acos(cos)
    if omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    direction = (math.sin((1 - t) * omega) * a / na + math.sin(t * omega) * b / nb) / math.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype(np.float32)


def latent_walk(*, seed: int, noise_dim: int, steps: int, steps_per_anchor: int) -> np.ndarray:
    """(steps, noise_dim) float32 latents: every ``steps_per_anchor`` steps the walk reaches the next
    seeded point (point j is standard normal from ``default_rng([seed, j])``), turning smoothly between."""
    if steps < 1 or steps_per_anchor < 1:
        raise ValueError(f"steps={steps} and steps_per_anchor={steps_per_anchor} must be positive")
    anchors = [
        np.random.default_rng([seed, j]).standard_normal(noise_dim) for j in range(steps // steps_per_anchor + 2)
    ]
    return np.stack(
        [
            slerp(
                anchors[k // steps_per_anchor],
                anchors[k // steps_per_anchor + 1],
                (k % steps_per_anchor) / steps_per_anchor,
            )
            for k in range(steps)
        ]
    )


def equal_power_fades(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_in, fade_out), each of ``n`` samples: sin and cos of a quarter turn, so fade_in^2 + fade_out^2 = 1
    and two uncorrelated signals crossfade at constant power (no dip at the join, unlike a linear fade)."""
    t = (np.arange(n) + 0.5) / n
    return np.sin(0.5 * np.pi * t), np.cos(0.5 * np.pi * t)


def overlap_add(segments: Iterable[np.ndarray], *, overlap: int, length: int | None = None) -> np.ndarray:
    """Join equal-length segments, each overlapping the previous by ``overlap`` samples with an
    equal-power crossfade; the first starts and the last ends at full level. The result is cut to
    ``length`` if given. Consumes ``segments`` lazily: one segment in memory besides the result."""
    out: np.ndarray | None = None
    pos = last = size = 0
    tail = None
    for k, seg in enumerate(segments):
        seg = np.array(seg, dtype=np.float64)  # a copy: faded in place
        if out is None:
            size = len(seg)
            if not 0 <= overlap <= size // 2:
                raise ValueError(f"overlap={overlap} must be in [0, {size // 2}] for segments of {size} samples")
            fade_in, fade_out = equal_power_fades(overlap)
            out = np.zeros(max(length or 0, size))
        elif len(seg) != size:
            raise ValueError(f"segment {k} has {len(seg)} samples, the first {size}")
        if k > 0:
            seg[:overlap] *= fade_in
        tail = seg[size - overlap :].copy()  # kept unfaded in case this segment is the last
        seg[size - overlap :] *= fade_out
        if pos + size > len(out):
            out = np.concatenate([out, np.zeros(pos + size - len(out))])
        out[pos : pos + size] += seg
        last, pos = pos, pos + size - overlap
    if out is None:
        raise ValueError("no segments to join")
    out[last + size - overlap : last + size] = tail  # nothing follows the last segment: no fade-out
    return (out if length is None else out[:length]).astype(np.float32)


def longform_plan(spec: LongformSpec, audio_spec: AudioSpec, *, n_fft: int = 0) -> dict:
    """Segments, hop and overlap (samples) and steps between anchors for one piece of ``spec.seconds``.

    The crossfade must be at least one STFT window (``n_fft``) long: Griffin-Lim's output is a little
    louder in the first and last half window of a segment (fewer frames overlap there), and a shorter
    crossfade would add those edges into an audible bump at every join (measured: +2 dB median).
    """
    size, sr = audio_spec.segment_samples, audio_spec.sample_rate
    overlap = int(round(spec.overlap_seconds * sr))
    if overlap > size // 2:
        raise ValueError(
            f"generate.longform.overlap_seconds={spec.overlap_seconds} must be at most half a segment "
            f"({audio_spec.segment_seconds / 2} s)"
        )
    if overlap < n_fft:
        raise ValueError(
            f"generate.longform.overlap_seconds={spec.overlap_seconds} must be at least one STFT window "
            f"(mel.n_fft={n_fft} samples, {n_fft / sr:.3f} s)"
        )
    hop, length = size - overlap, int(round(spec.seconds * sr))
    segments = max(1, math.ceil((length - overlap) / hop))
    return {
        "segments": segments,
        "hop": hop,
        "overlap": overlap,
        "length": length,
        "steps_per_anchor": max(1, round(spec.anchor_seconds * sr / hop)),
    }


def render_longform(
    renderer: Renderer, spec: LongformSpec, *, seed: int, target_dbfs: float, chunk: int = 8
) -> np.ndarray:
    """One long piece (samples,) float32: the latent walk of ``seed``, ``chunk`` segments at a time."""
    plan = longform_plan(spec, renderer.audio_spec, n_fft=renderer.mel_spec.n_fft)
    z = latent_walk(
        seed=seed, noise_dim=renderer.noise_dim, steps=plan["segments"], steps_per_anchor=plan["steps_per_anchor"]
    )

    def segments() -> Iterator[np.ndarray]:
        for start in range(0, len(z), chunk):
            yield from renderer.audio(renderer.mels(z[start : start + chunk]))

    wave = overlap_add(segments(), overlap=plan["overlap"], length=plan["length"])
    return audio.normalise_loudness(wave, target_dbfs=target_dbfs)


def longform(
    *,
    model_dir: str | Path,
    dataset_meta: str | Path | dict | None,
    pieces: list[str | Path],
    manifest: str | Path,
    spec: LongformSpec,
    griffin_lim_iters: int,
    target_dbfs: float,
    inversion_method: str = "fast",
    weights: str = "generator_ema.weights.h5",
    formats: Iterable[str] = (),
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write one long piece per path in ``pieces`` (piece i walks from seed ``spec.seed + i``) and a manifest."""
    log = log or logging.getLogger(__name__)
    r = Renderer(
        model_dir,
        weights=weights,
        dataset_meta=dataset_meta,
        griffin_lim_iters=griffin_lim_iters,
        inversion_method=inversion_method,
    )
    plan = longform_plan(spec, r.audio_spec, n_fft=r.mel_spec.n_fft)
    common = {
        "segments": plan["segments"],
        "overlap_seconds": plan["overlap"] / r.sample_rate,
        "anchor_seconds": spec.anchor_seconds,
        **_provenance(r, target_dbfs=target_dbfs, longform=spec.to_dict()),
    }
    rows = []
    for i, path in enumerate(pieces):
        wave = render_longform(r, spec, seed=spec.seed + i, target_dbfs=target_dbfs)
        write_audio(path, wave, r.sample_rate, formats)
        rows.append({"piece": Path(path).name, "seed": spec.seed + i, **_level_row(wave, r.sample_rate), **common})
        log.info(
            "%s: seed %d, %.1f s from %d segments, rms %.1f dBFS, peak %.1f dBFS",
            rows[-1]["piece"],
            spec.seed + i,
            rows[-1]["duration"],
            plan["segments"],
            rows[-1]["rms_dbfs"],
            rows[-1]["peak_dbfs"],
        )
    return _write_manifest(manifest, rows)
