"""Speed and quality of mel inversion: method="fast" against method="librosa".

Segments are synthetic music from ``audiowgan.demo`` (chords, bass, drums, noise),
or WAV files from ``--segments DIR``, cut to ``--seconds``. Their mels follow the
workflow's convention exactly (features.mel_power -> scale to [-1, 1] float32 ->
unscale), both methods invert the same batch in the same process, and each
result's STFT magnitude is compared with the segment's true one, scaled by the same
peak the mel was normalised by.

    nice .venv/bin/python benchmarks/inversion.py            # defaults: 16 x 5 s, 256 mels, 32 iterations
    nice .venv/bin/python benchmarks/inversion.py --small    # 4 x 1 s, 64 mels, 16 iterations: a few seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from audiowgan import demo, features, inversion  # noqa: E402


def load_segments(args: argparse.Namespace) -> np.ndarray:
    n = int(round(args.seconds * args.sample_rate))
    if args.segments:
        import librosa

        paths = sorted(Path(args.segments).glob("*.wav"))[: args.batch]
        if not paths:
            raise SystemExit(f"no .wav files in {args.segments}")
        segs = [librosa.load(p, sr=args.sample_rate, mono=True, duration=args.seconds)[0] for p in paths]
        segs = [np.pad(s, (0, max(0, n - len(s))))[:n] for s in segs]
    else:
        segs = [
            demo.piece(seed=s, seconds=args.seconds + 0.01, sample_rate=args.sample_rate)[:n] for s in range(args.batch)
        ]
    return np.stack(segs).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", help="folder of WAV files to use instead of synthetic music")
    parser.add_argument("--small", action="store_true", help="4 x 1 s segments, n_fft 512, 64 mels, 16 iterations")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--n-fft", type=int, default=2048)
    parser.add_argument("--hop-length", type=int, default=512)
    parser.add_argument("--n-mels", type=int, default=256)
    parser.add_argument("--top-db", type=float, default=80.0)
    parser.add_argument("--n-iter", type=int, default=32)
    args = parser.parse_args(argv)
    if args.small:
        args.batch, args.seconds, args.n_fft, args.hop_length, args.n_mels, args.n_iter = 4, 1.0, 512, 128, 64, 16

    segs = load_segments(args)
    stft = dict(n_fft=args.n_fft, hop_length=args.hop_length)
    mel_args = dict(sample_rate=args.sample_rate, n_mels=args.n_mels, **stft)
    mels = np.stack([features.mel_power(s, **mel_args) for s in segs])  # (B, n_mels, frames)
    power = features.unscale(np.stack([features.scale(m, top_db=args.top_db) for m in mels]), top_db=args.top_db)
    peaks = mels.reshape(len(mels), -1).max(axis=1)  # unscale gives power relative to these
    true_mag = inversion.stft_magnitude(segs, **stft) / np.sqrt(peaks)[:, None, None]
    print(
        f"{len(segs)} segments x {args.seconds:g} s at {args.sample_rate} Hz, n_fft {args.n_fft}, hop {args.hop_length}, "
        f"{power.shape[1]} mels x {power.shape[2]} frames, {args.n_iter} iterations"
    )

    results = {}
    for method in ("fast", "librosa"):
        inversion.mel_to_audio(power[:1], sample_rate=args.sample_rate, **stft, n_iter=1, method=method)  # warm caches
        start = time.perf_counter()
        audio = inversion.mel_to_audio(
            power, sample_rate=args.sample_rate, **stft, n_iter=args.n_iter, length=segs.shape[1], method=method
        )
        seconds = time.perf_counter() - start
        est = inversion.stft_magnitude(audio, **stft)
        sc = [inversion.spectral_convergence(t, e) for t, e in zip(true_mag, est)]
        results[method] = (seconds, float(np.mean(sc)))
        print(f"{method:8s} {seconds:7.2f} s  ({seconds / len(segs):.3f} s per segment)  "
              f"spectral convergence mean {np.mean(sc):.4f} (min {np.min(sc):.4f}, max {np.max(sc):.4f})")  # fmt: skip
    (t_fast, sc_fast), (t_lib, sc_lib) = results["fast"], results["librosa"]
    print(f"speed-up fast vs librosa: {t_lib / t_fast:.1f}x (goal >= 5x); "
          f"spectral convergence fast {sc_fast:.4f} vs librosa {sc_lib:.4f} (goal: fast <= librosa)")  # fmt: skip


if __name__ == "__main__":
    main()
