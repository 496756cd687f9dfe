"""A batch of clips, checked and brought to the sample rate a pretrained network expects."""

from __future__ import annotations

import numpy as np

from audiowgan.core.check import positive_int


def clips_at(waves, sample_rate, target_rate: int, *, min_samples: int, needs: str, dtype=np.float32) -> np.ndarray:
    """``waves`` ((N, samples) or (samples,)) as an (N, samples') ``dtype`` array at ``target_rate``.

    Resampled with soxr through librosa, as librosa.load does. Raises ValueError for an
    empty, non-numeric or non-finite batch, and for clips shorter than ``min_samples`` at
    ``target_rate``; ``needs`` ends that message (what the network needs them for).
    """
    sample_rate = positive_int("sample_rate", sample_rate)
    w = np.asarray(waves)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2 or w.shape[0] == 0:
        raise ValueError(f"waves.shape={np.shape(waves)} must be (N, samples) or (samples,) with N >= 1")
    if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)) or w.dtype == bool:
        raise ValueError(f"waves.dtype={w.dtype} must be a real number type")
    w = w.astype(dtype)
    if not np.all(np.isfinite(w)):
        raise ValueError("waves must be finite")
    if sample_rate != target_rate:
        import librosa  # seconds to import: only when a resample is needed

        w = librosa.resample(w, orig_sr=sample_rate, target_sr=target_rate, res_type="soxr_hq", axis=-1)
    if w.shape[1] < min_samples:
        raise ValueError(
            f"waves have {np.shape(waves)[-1]} samples at {sample_rate} Hz = {w.shape[1]} at {target_rate} Hz; {needs}"
        )
    return w
