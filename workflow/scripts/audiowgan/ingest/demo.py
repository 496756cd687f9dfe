"""A small synthetic music corpus, so the workflow runs offline out of the box.

Each piece has a chord progression (detuned saw-like pads), a bass line, drums
(kick, snare, hi-hat) and a little noise, at a tempo and key drawn from its seed.
The files are ordinary WAVs listed in ``config/demo_sources.tsv`` as local paths,
so they flow through the same stages (yt-dlp, ffmpeg, segment, mel) as any source.

Run ``python -m audiowgan.ingest.demo OUT_DIR`` (with workflow/scripts on PYTHONPATH).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audiowgan.dsp import audio

# Triads as semitone offsets from the root, and progressions as scale degrees.
_MAJOR = (0, 4, 7)
_MINOR = (0, 3, 7)
_PROGRESSIONS = (
    ((0, _MAJOR), (9, _MINOR), (5, _MAJOR), (7, _MAJOR)),  # I vi IV V
    ((0, _MINOR), (8, _MAJOR), (3, _MAJOR), (10, _MAJOR)),  # i VI III VII
    ((0, _MAJOR), (7, _MAJOR), (9, _MINOR), (5, _MAJOR)),  # I V vi IV
)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _envelope(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def _tone(freq: float, n: int, sr: int, harmonics: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    out = np.zeros(n)
    for h in range(1, harmonics + 1):
        phase = rng.uniform(0, 2 * np.pi)
        out += np.sin(2 * np.pi * freq * h * t * (1 + rng.normal(0, 0.0007)) + phase) / h
    return out


def piece(*, seed: int, seconds: float, sample_rate: int = 22050) -> np.ndarray:
    """One mono piece, float32 in [-1, 1], deterministic for a seed."""
    rng = np.random.default_rng(seed)
    sr = sample_rate
    n = int(seconds * sr)
    out = np.zeros(n)
    bpm = rng.uniform(80, 128)
    beat = int(sr * 60 / bpm)
    bar = 4 * beat
    root = 48 + int(rng.integers(0, 12))
    progression = _PROGRESSIONS[seed % len(_PROGRESSIONS)]
    for b, start in enumerate(range(0, n, bar)):
        degree, triad = progression[b % len(progression)]
        length = min(bar, n - start)
        env = _envelope(length, sr, 0.05, 2.5)
        for interval in triad:  # chord pad
            out[start : start + length] += 0.12 * env * _tone(_hz(root + 12 + degree + interval), length, sr, 6, rng)
        for k in range(4):  # bass: root on beats 1 and 3, fifth on 2 and 4
            s = start + k * beat
            if s >= n:
                break
            ln = min(beat, n - s)
            note = root - 12 + degree + (7 if k % 2 else 0)
            out[s : s + ln] += 0.25 * _envelope(ln, sr, 0.01, 0.25) * _tone(_hz(note), ln, sr, 3, rng)
    eighth = beat // 2
    for k, s in enumerate(range(0, n, eighth)):  # drums on an eighth-note grid
        ln = min(eighth, n - s)
        t = np.arange(ln) / sr
        if k % 4 == 0:  # kick: falling sine
            out[s : s + ln] += 0.6 * np.exp(-t / 0.12) * np.sin(2 * np.pi * (50 + 90 * np.exp(-t / 0.03)) * t)
        if k % 4 == 2:  # snare: noise burst with a body
            out[s : s + ln] += 0.3 * np.exp(-t / 0.08) * (rng.normal(0, 1, ln) * 0.7 + np.sin(2 * np.pi * 190 * t))
        hat = np.diff(rng.normal(0, 1, ln + 1))  # differenced noise: bright hi-hat
        out[s : s + ln] += 0.05 * np.exp(-t / 0.02) * hat
    out += rng.normal(0, 0.003, n)  # tape hiss
    out = np.tanh(1.2 * out)  # gentle saturation, also bounds the peak
    return (out / max(1e-9, np.max(np.abs(out))) * 0.89).astype(np.float32)


def write_corpus(
    out_dir: str | Path, *, pieces: int = 6, seconds: float = 30.0, sample_rate: int = 22050
) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(pieces):
        path = out_dir / f"demo_{i + 1:02d}.wav"
        if not path.exists():
            audio.write_wav(path, piece(seed=i, seconds=seconds, sample_rate=sample_rate), sample_rate)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--pieces", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    for path in write_corpus(args.out_dir, pieces=args.pieces, seconds=args.seconds):
        print(path)


if __name__ == "__main__":
    main()
