"""Mel spectrograms and their [-1, 1] scaling.

Convention (shared with ``inversion``): mel power from a centered Hann STFT,
``power_to_db`` relative to the segment's peak and clipped at ``top_db`` below it,
then mapped linearly from [-top_db, 0] dB to [-1, 1] and stored as float32.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from audiowgan.core import atomic
from audiowgan.core.check import check_mel_params
from audiowgan.core.settings import AudioSpec, MelSpec, segment_samples
from audiowgan.dsp import audio

log = logging.getLogger(__name__)

# What segments.json says about the cutting that the mel folder's meta passes on to pack.
SEGMENT_KEYS = ("sample_rate", "segment_seconds", "segment_overlap", "segment_hop_seconds", "silence_threshold_db")


def n_frames(n_samples: int, hop_length: int) -> int:
    """Frames of a centered STFT: ``1 + n_samples // hop_length``."""
    return 1 + n_samples // hop_length


@functools.lru_cache(maxsize=16)
def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``n_fft`` samples, float32 (librosa's and scipy's ``"hann"``)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def centered_frames(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """(..., samples) -> (..., 1 + samples // hop_length, n_fft) windowed frames, zero-padded by
    n_fft // 2 on both sides as librosa.stft's ``center=True`` (its default constant padding)."""
    pad = n_fft // 2
    y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(pad, pad)])
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop_length, :]
    return frames * hann(n_fft)


@functools.lru_cache(maxsize=16)
def mel_filters(*, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """librosa's mel filter bank (Slaney), (n_mels, 1 + n_fft // 2), cached per parameters."""
    import librosa.filters  # not librosa.feature: its imports cost a second more per job

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


def mel_power(
    samples: np.ndarray,
    *,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Mel power spectrogram, shape (n_mels, 1 + len(samples) // hop_length), float32.

    Equal (to float32 rounding) to ``librosa.feature.melspectrogram(y, sr=..., power=2.0)``
    with a centered Hann STFT; computed here from the same window, padding and filter
    bank because importing librosa.feature costs seconds in every short rule job.
    """
    frames = centered_frames(np.asarray(samples, dtype=np.float32), n_fft=n_fft, hop_length=hop_length)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2  # (frames, bins)
    fb = mel_filters(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=float(fmin), fmax=fmax)
    return (fb @ power.T).astype(np.float32)


def scale(power: np.ndarray, *, top_db: float) -> np.ndarray:
    """Power to dB relative to the peak, clipped at ``top_db``, mapped to [-1, 1] (float32)."""
    import librosa

    db = librosa.power_to_db(power, ref=np.max, top_db=top_db)  # in [-top_db, 0]
    return np.clip(db / top_db * 2.0 + 1.0, -1.0, 1.0).astype(np.float32)


def unscale(scaled: np.ndarray, *, top_db: float) -> np.ndarray:
    """Inverse of :func:`scale`: [-1, 1] to power relative to the peak (peak = 1)."""
    db = (np.asarray(scaled, dtype=np.float64) - 1.0) / 2.0 * top_db
    return np.power(10.0, db / 10.0)


def mel(
    samples: np.ndarray,
    *,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    top_db: float,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Scaled mel spectrogram of one segment, float32 in [-1, 1], shape (n_mels, frames)."""
    power = mel_power(
        samples, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    return scale(power, top_db=top_db)


def mel_directory(segments_dir: str | Path, out_dir: str | Path, *, spec: MelSpec, threads: int = 1) -> dict:
    """Write one ``NNNNN.npy`` per ``NNNNN.wav`` in ``segments_dir`` and a ``mel.json``.

    ``spec`` holds n_fft, hop_length, n_mels, top_db, fmin, fmax. The sample rate
    and segment settings are read from the segments' ``segments.json`` and
    recorded in ``mel.json`` with the mel parameters, so ``pack`` can describe
    the dataset without reading the config.
    """
    segments_dir, out_dir = Path(segments_dir), Path(out_dir)
    seg_meta = json.loads((segments_dir / "segments.json").read_text())
    sr = int(seg_meta["sample_rate"])
    mel_params = spec.to_dict()
    check_mel_params(sample_rate=sr, **mel_params)
    with atomic.replacing_dir(out_dir) as tmp:  # a killed job leaves no folder: the next run redoes it
        return _mels_into(segments_dir, tmp, seg_meta=seg_meta, spec=spec, threads=threads)


def _mels_into(segments_dir: Path, out_dir: Path, *, seg_meta: dict, spec: MelSpec, threads: int) -> dict:
    sr = int(seg_meta["sample_rate"])
    mel_params = spec.to_dict()
    wavs = sorted(segments_dir.glob("*.wav"))

    def one(wav: Path) -> tuple[int, ...]:
        samples, file_sr = audio.read_wav(wav)
        if file_sr != sr:
            raise ValueError(f"{wav} is at {file_sr} Hz, expected {sr} Hz from segments.json")
        m = mel(samples, sample_rate=sr, **mel_params)
        np.save(out_dir / f"{wav.stem}.npy", m)  # out_dir is the job's temporary folder
        return m.shape

    if threads > 1 and len(wavs) > 1:
        from concurrent.futures import ThreadPoolExecutor  # librosa's FFTs release the GIL

        with ThreadPoolExecutor(threads) as pool:
            shapes = list(pool.map(one, wavs))
    else:
        shapes = [one(w) for w in wavs]
    meta = {
        **{k: seg_meta[k] for k in SEGMENT_KEYS},
        **{
            k: seg_meta.get(k, d)
            for k, d in (("status", "ok"), ("reason", ""), ("silent_segments", []), ("total_seconds", 0.0))
        },
        **mel_params,
        "frames": shapes[0][1]
        if shapes
        else n_frames(segment_samples(seg_meta["segment_seconds"], sr), spec.hop_length),
        "n_segments": len(wavs),
    }
    atomic.write_json(out_dir / "mel.json", meta)
    return meta


# ------------------------------------------------------------------ clips and waves with a dataset's settings


def meta_mel_args(meta: dict) -> dict:
    """The sample rate and mel settings a dataset was made with (its meta.json), as keyword arguments."""
    return {"sample_rate": AudioSpec.from_meta(meta).sample_rate, **MelSpec.from_meta(meta).stft_args()}


def clip_mels(clips: list[str | Path], meta: dict) -> np.ndarray:
    """Scaled mels (N, n_mels, frames) of WAV files, with the dataset's parameters and length."""
    return waves_mels(read_clips(clips, meta), meta)


def waves_mels(waves: np.ndarray, meta: dict) -> np.ndarray:
    """Scaled mels (N, n_mels, frames) of audio arrays, with the dataset's parameters."""
    args = meta_mel_args(meta)
    return np.stack([mel(w, top_db=float(meta["top_db"]), **args) for w in waves])


def read_clips(clips: list[str | Path], meta: dict) -> np.ndarray:
    """(N, segment samples) float32 audio of WAV files at the dataset's rate, cut or padded to its length."""
    spec = AudioSpec.from_meta(meta)
    sr, length = spec.sample_rate, spec.segment_samples
    out = []
    for clip in clips:
        samples, file_sr = audio.read_wav(clip)
        if file_sr != sr:
            raise ValueError(f"{clip} is at {file_sr} Hz, the dataset at {sr} Hz")
        out.append(np.pad(samples[:length], (0, max(0, length - len(samples)))))
    return np.stack(out).astype(np.float32)
