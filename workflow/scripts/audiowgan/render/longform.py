"""Rule ``longform``: long pieces from a latent walk, crossfaded segment by segment.

Segments are generated and inverted a few at a time and added into the piece as they come, so
memory grows with the piece's length, never with its length times a batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from audiowgan.core.names import WEIGHTS
from audiowgan.core.settings import AudioSpec, LongformSpec
from audiowgan.dsp import audio
from audiowgan.render.generate import Renderer, level_row, provenance, write_audio, write_manifest


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


def latent_walk(
    *, seed: int, noise_dim: int, steps: int, steps_per_anchor: int, temperature: float = 1.0
) -> np.ndarray:
    """(steps, noise_dim) float32 latents: every ``steps_per_anchor`` steps the walk reaches the next
    seeded point (point j is normal from ``default_rng([seed, j])``, standard deviation ``temperature``),
    turning smoothly between."""
    if steps < 1 or steps_per_anchor < 1:
        raise ValueError(f"steps={steps} and steps_per_anchor={steps_per_anchor} must be positive")
    anchors = [
        np.random.default_rng([seed, j]).standard_normal(noise_dim) * temperature
        for j in range(steps // steps_per_anchor + 2)
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
    renderer: Renderer,
    spec: LongformSpec,
    *,
    seed: int,
    target_dbfs: float,
    temperature: float = 1.0,
    chunk: int = 8,
) -> np.ndarray:
    """One long piece (samples,) float32: the latent walk of ``seed`` at ``temperature``, ``chunk`` segments at a
    time."""
    plan = longform_plan(spec, renderer.audio_spec, n_fft=renderer.mel_spec.n_fft)
    z = latent_walk(
        seed=seed,
        noise_dim=renderer.noise_dim,
        steps=plan["segments"],
        steps_per_anchor=plan["steps_per_anchor"],
        temperature=temperature,
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
    weights: str = WEIGHTS["ema"],
    temperature: float = 1.0,
    formats: Iterable[str] = (),
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write one long piece per path in ``pieces`` (piece i walks from seed ``spec.seed + i`` at ``temperature``) and
    a manifest."""
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
        **provenance(r, temperature, target_dbfs=target_dbfs, longform=spec.to_dict()),
    }
    rows = []
    for i, path in enumerate(pieces):
        wave = render_longform(r, spec, seed=spec.seed + i, target_dbfs=target_dbfs, temperature=temperature)
        write_audio(path, wave, r.sample_rate, formats)
        rows.append({"piece": Path(path).name, "seed": spec.seed + i, **level_row(wave, r.sample_rate), **common})
        log.info(
            "%s: seed %d, %.1f s from %d segments, rms %.1f dBFS, peak %.1f dBFS",
            rows[-1]["piece"],
            spec.seed + i,
            rows[-1]["duration"],
            plan["segments"],
            rows[-1]["rms_dbfs"],
            rows[-1]["peak_dbfs"],
        )
    return write_manifest(manifest, rows)
