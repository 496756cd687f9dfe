"""Audio I/O: streaming decode with ffmpeg, segmentation, WAV files, loudness.

Decoding streams raw float32 samples from an ffmpeg pipe, one segment at a time,
so memory stays constant however long the track (a 6-hour compilation decoded
whole would need 4 GB).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from audiowgan.core import atomic
from audiowgan.core.settings import AudioSpec

log = logging.getLogger(__name__)

PEAK_CEILING_DBFS = -1.0


class AudioError(RuntimeError):
    """Audio that cannot be decoded, with ffmpeg's reason."""


def require_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise AudioError("ffmpeg is not installed; install it (e.g. apt-get install ffmpeg) and rerun")
    return path


def stream_blocks(path: str | Path, *, sample_rate: int, block_samples: int) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks of ``block_samples`` samples from any file ffmpeg reads.

    The last block may be shorter. Raises :class:`AudioError` if ffmpeg fails.
    """
    if block_samples <= 0:
        raise ValueError(f"block_samples={block_samples} must be a positive integer")
    cmd = [
        require_ffmpeg(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(int(sample_rate)),
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        nbytes = block_samples * 4
        try:
            while True:
                chunk = proc.stdout.read(nbytes)
                if not chunk:
                    break
                while len(chunk) < nbytes:  # a pipe may return short reads
                    more = proc.stdout.read(nbytes - len(chunk))
                    if not more:
                        break
                    chunk += more
                yield np.frombuffer(chunk[: len(chunk) - len(chunk) % 4], dtype="<f4")
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            reason = errors.read().decode(errors="replace").strip().splitlines()
            raise AudioError(f"ffmpeg could not decode {path}: {reason[-1] if reason else f'exit {code}'}")


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale sine is about -3 dBFS)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else -np.inf


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf


@dataclass
class SegmentSummary:
    kept: int
    silent: int
    remainder_seconds: float
    total_seconds: float
    silent_segments: list[int] = field(default_factory=list)


def segment_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    sample_rate: int,
    segment_seconds: float,
    segment_overlap: float = 0.0,
    silence_threshold_db: float,
) -> SegmentSummary:
    """Cut ``path`` into mono WAV segments ``out_dir/NNNNN.wav`` of ``segment_seconds``, one every hop.

    The hop is ``segment_seconds * (1 - segment_overlap)``: 0 cuts segments side by side, a larger
    share overlapping ones, more training examples from the same audio. ``NNNNN`` is the number of
    the segment's start hop: segment k starts k hops into the track, so numbers follow the position
    in the track and gaps show where silence was. Segments quieter than
    ``silence_threshold_db`` (RMS dBFS) are dropped and counted; the trailing remainder after the
    last whole segment is dropped.
    """
    spec = AudioSpec.from_mapping(
        sample_rate=sample_rate,
        segment_seconds=segment_seconds,
        segment_overlap=segment_overlap,
        silence_threshold_db=silence_threshold_db,
    )
    seg_len, hop_len = spec.segment_samples, spec.hop_samples
    if seg_len <= 0:
        raise ValueError(f"segment_seconds={segment_seconds} gives no samples at {sample_rate} Hz")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = silent = position = 0
    silent_positions: list[int] = []
    pending = np.empty(0, dtype=np.float32)  # the decoded samples from segment ``position``'s start on
    for block in stream_blocks(path, sample_rate=sample_rate, block_samples=seg_len):
        pending = np.concatenate([pending, block])
        while pending.size >= seg_len:
            if rms_dbfs(pending[:seg_len]) < silence_threshold_db:
                silent += 1
                silent_positions.append(position)
            else:
                write_wav(out_dir / f"{position:05d}.wav", pending[:seg_len], sample_rate)
                kept += 1
            position += 1
            pending = pending[hop_len:]
        if block.size < seg_len:  # only the last block is short
            break
    # ``pending`` starts at the next hop; the remainder is what follows the last whole segment.
    remainder = pending.size - (seg_len - hop_len if position else 0)
    total = (position * hop_len + pending.size) / sample_rate
    return SegmentSummary(kept, silent, remainder / sample_rate, total, silent_positions)


def segment_track(
    audio_path: str | Path,
    download_status: dict,
    out_dir: str | Path,
    *,
    sample_rate: int,
    segment_seconds: float,
    segment_overlap: float = 0.0,
    silence_threshold_db: float,
) -> dict:
    """Segment one downloaded track and write ``out_dir/segments.json``; never fails on bad audio.

    ``segments.json`` records the overlap and the hop it makes in seconds, so ``mel`` and ``pack``
    know which segments overlap and a reader where segment k starts. The returned (and written)
    metadata has a ``status``: ``ok``, the download's failure status passed on, ``undecodable``
    (ffmpeg could not read the file), ``too-short`` (shorter than one segment) or ``silent`` (every
    segment below the threshold), with a ``reason`` a person can read.
    """
    spec = AudioSpec.from_mapping(
        sample_rate=sample_rate, segment_seconds=segment_seconds, segment_overlap=segment_overlap
    )  # refuses an overlap that leaves no hop before any file is touched
    with atomic.replacing_dir(out_dir) as tmp:  # a killed job leaves no folder: the next run redoes it
        return _segment_into(
            audio_path,
            download_status,
            tmp,
            sample_rate=sample_rate,
            segment_seconds=segment_seconds,
            segment_overlap=segment_overlap,
            silence_threshold_db=silence_threshold_db,
            hop_seconds=spec.hop_seconds,
        )


def _segment_into(
    audio_path,
    download_status: dict,
    out_dir: Path,
    *,
    sample_rate: int,
    segment_seconds: float,
    segment_overlap: float,
    silence_threshold_db: float,
    hop_seconds: float,
) -> dict:
    params = {
        "sample_rate": sample_rate,
        "segment_seconds": segment_seconds,
        "segment_overlap": segment_overlap,
        "silence_threshold_db": silence_threshold_db,
    }
    summary = SegmentSummary(0, 0, 0.0, 0.0)
    status, reason = download_status.get("status", "ok"), download_status.get("reason", "")
    if status == "ok":
        try:
            summary = segment_file(audio_path, out_dir, **params)
        except AudioError as exc:
            status, reason = "undecodable", str(exc)
            for wav in out_dir.glob("*.wav"):  # a file that breaks half-way yields nothing
                wav.unlink()
    if status == "ok" and summary.kept == 0:
        if summary.silent:
            status = "silent"
            reason = f"all {summary.silent} segment(s) below {silence_threshold_db} dBFS RMS"
        else:
            status = "too-short"
            reason = f"{summary.total_seconds:.2f} s of audio, shorter than one {segment_seconds} s segment"
    meta = {**params, "segment_hop_seconds": hop_seconds, "status": status, "reason": reason, **asdict(summary)}
    atomic.write_json(out_dir / "segments.json", meta)
    return meta


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples as 16-bit PCM WAV, atomically (temp file, then rename)."""
    with atomic.replacing(path) as tmp:
        sf.write(tmp, np.asarray(samples, dtype=np.float32), int(sample_rate), subtype="PCM_16", format="WAV")


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    samples, sr = sf.read(path, dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return samples, sr


def normalise_loudness(
    samples: np.ndarray, *, target_dbfs: float, peak_ceiling_dbfs: float = PEAK_CEILING_DBFS
) -> np.ndarray:
    """Scale to ``target_dbfs`` RMS, lowered if needed so the peak stays below the ceiling.

    A linear gain, never clipping: a clip whose crest factor is too high for the
    target ends up quieter than the target rather than distorted.
    """
    samples = np.asarray(samples, dtype=np.float64)
    level = rms_dbfs(samples)
    if not np.isfinite(level):
        return samples.astype(np.float32)
    gain_db = target_dbfs - level
    headroom_db = peak_ceiling_dbfs - peak_dbfs(samples)
    gain_db = min(gain_db, headroom_db)
    return (samples * 10.0 ** (gain_db / 20.0)).astype(np.float32)


COMPRESSED = {"mp3": {"format": "mp3", "bitrate": "192k"}, "ogg": {"format": "ogg", "codec": "libvorbis"}}


def export_compressed(wav: str | Path, fmt: str) -> Path:
    """A compressed copy of ``wav`` beside it (``clip.wav`` -> ``clip.mp3``), encoded by ffmpeg through pydub.

    ``mp3`` is 192 kbit/s, ``ogg`` Vorbis at ffmpeg's default quality: for listening and sharing;
    the WAV stays the reference (metrics read it). Written atomically.
    """
    if fmt not in COMPRESSED:
        raise ValueError(f"format={fmt!r} must be one of {', '.join(COMPRESSED)}")
    from pydub import AudioSegment

    require_ffmpeg()
    wav = Path(wav)
    out = wav.with_suffix(f".{fmt}")
    with atomic.replacing(out, keep_suffix=True) as tmp:
        AudioSegment.from_wav(wav).export(tmp, **COMPRESSED[fmt])
    return out
