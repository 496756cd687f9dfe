"""Speed and quality of mel inversion: method="fast" against method="librosa".

Segments are synthetic music from ``audiowgan.ingest.demo`` (chords, bass, drums, noise),
or WAV files from ``--segments DIR``, cut to ``--seconds``. Their mels follow the
workflow's convention exactly (features.mel_power -> scale to [-1, 1] float32 ->
unscale), both methods invert the same batch in the same process, and each
result's STFT magnitude is compared with the segment's true one, scaled by the same
peak the mel was normalised by.

    nice .venv/bin/python benchmarks/inversion.py            # defaults: 16 x 5 s, 256 mels, 32 iterations
    nice .venv/bin/python benchmarks/inversion.py --small    # 4 x 1 s, 64 mels, 16 iterations: a few seconds

``--render`` times the whole rendering path of rule ``generate`` instead: everything
:func:`audiowgan.render.generate.render_clips` does after the generator produced the mels (mel ->
audio, loudness, WAV, the MP3 copies), in batches of 16 as the rule, against
``librosa.feature.inverse.mel_to_audio`` alone on the same mels. It also breaks the path into its
stages, run one after the other on one thread, and scores both outputs' spectral convergence
after the least-squares gain (the rendered clips are loudness-normalised). CPU seconds (the
process and its ffmpeg children) are printed beside the wall clock: on a shared machine they show
the work when other jobs slow the wall clock, which they do to the encoders' start-up most.

    nice .venv/bin/python benchmarks/inversion.py --render   # 120 x 5 s, 22.05 kHz, 128 mels, 32 iterations
    nice .venv/bin/python benchmarks/inversion.py --render --librosa-clips 40   # librosa on a third: 2 min less
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from audiowgan.core.settings import AudioSpec, MelSpec  # noqa: E402
from audiowgan.dsp import audio, inversion  # noqa: E402
from audiowgan.dsp import mel as features  # noqa: E402
from audiowgan.ingest import demo  # noqa: E402
from audiowgan.look import distances  # noqa: E402
from audiowgan.render import generate  # noqa: E402


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


def compare(args: argparse.Namespace) -> None:
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
        waves = inversion.mel_to_audio(
            power, sample_rate=args.sample_rate, **stft, n_iter=args.n_iter, length=segs.shape[1], method=method
        )
        seconds = time.perf_counter() - start
        est = inversion.stft_magnitude(waves, **stft)
        sc = [distances.spectral_convergence(t, e) for t, e in zip(true_mag, est)]
        results[method] = (seconds, float(np.mean(sc)))
        print(f"{method:8s} {seconds:7.2f} s  ({seconds / len(segs):.3f} s per segment)  "
              f"spectral convergence mean {np.mean(sc):.4f} (min {np.min(sc):.4f}, max {np.max(sc):.4f})")  # fmt: skip
    (t_fast, sc_fast), (t_lib, sc_lib) = results["fast"], results["librosa"]
    print(f"speed-up fast vs librosa: {t_lib / t_fast:.1f}x (goal >= 5x); "
          f"spectral convergence fast {sc_fast:.4f} vs librosa {sc_lib:.4f} (goal: fast <= librosa)")  # fmt: skip


def cpu_seconds() -> float:
    """User and system time of this process and its finished children (the ffmpeg encoders)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def timed_cpu(fn, *args, **kwargs) -> tuple[float, float, object]:
    """Wall and CPU seconds: on a shared machine the CPU seconds show the work when others slow the wall clock."""
    cpu = cpu_seconds()
    wall, out = timed(fn, *args, **kwargs)
    return wall, cpu_seconds() - cpu, out


def spectral_convergences(true_mag: np.ndarray, waves: np.ndarray, stft: dict) -> np.ndarray:
    """Per clip, the spectral convergence of ``waves`` after the gain that fits them best to ``true_mag``."""
    est = inversion.stft_magnitude(waves, **stft)
    gains = (true_mag * est).sum(axis=(1, 2)) / np.maximum((est * est).sum(axis=(1, 2)), 1e-30)
    return np.array([distances.spectral_convergence(t, g * e) for t, g, e in zip(true_mag, gains, est)])


def batches(mels: np.ndarray, out: Path, size: int = 16):
    """The rule's batches: (paths, seeds, mels), 16 clips each."""
    for start in range(0, len(mels), size):
        chunk = mels[start : start + size]
        yield (
            [out / f"clip_{start + k:03d}.wav" for k in range(len(chunk))],
            list(range(start, start + len(chunk))),
            chunk,
        )


def render_stages(mels: np.ndarray, inverter: generate.Inverter, out: Path, formats: list[str]) -> dict:
    """Seconds of each stage of the rendering path, one after the other, on one thread."""
    inverter = dataclasses.replace(inverter, workers=1)
    m, sr = inverter.mel_spec, inverter.audio_spec.sample_rate
    t_linear, _ = timed(lambda: [  # one clip at a time, as the inversion's tasks
        inversion.mel_to_magnitude(features.unscale(mel, top_db=m.top_db), sample_rate=sr, n_fft=m.n_fft, fmin=m.fmin,
                                   fmax=m.fmax)
        for mel in mels
    ])  # fmt: skip
    t_invert, waves = timed(lambda: np.concatenate([inverter(b) for _, _, b in batches(mels, out)]))
    t_loud, waves = timed(lambda: [audio.normalise_loudness(w, target_dbfs=-20.0) for w in waves])
    paths = [out / f"stage_{i:03d}.wav" for i in range(len(waves))]
    t_wav, _ = timed(lambda: [audio.write_wav(p, w, sr) for p, w in zip(paths, waves)])
    t_copy, _ = timed(lambda: [audio.export_compressed(p, f) for p in paths for f in formats])
    return {
        "unscale, mel -> linear magnitude": t_linear,
        "Griffin-Lim iterations, ISTFT": t_invert - t_linear,
        "loudness": t_loud,
        "WAV write": t_wav,
        f"{'/'.join(formats)} copies": t_copy,
    }


def render(args: argparse.Namespace) -> None:
    segs = load_segments(args)
    audio_spec = AudioSpec.from_mapping(sample_rate=args.sample_rate, segment_seconds=args.seconds)
    mel_spec = MelSpec.from_mapping(
        n_fft=args.n_fft, hop_length=args.hop_length, n_mels=args.n_mels, top_db=args.top_db
    )
    stft = dict(n_fft=args.n_fft, hop_length=args.hop_length)
    mel_args = dict(sample_rate=args.sample_rate, n_mels=args.n_mels, **stft)
    mels = np.stack([features.scale(features.mel_power(s, **mel_args), top_db=args.top_db) for s in segs])
    true_mag = inversion.stft_magnitude(segs, **stft)
    inverter = generate.Inverter(audio_spec, mel_spec, griffin_lim_iters=args.n_iter, workers=args.threads)
    formats = [f for f in args.formats.split(",") if f]
    n, n_lib = len(mels), min(args.librosa_clips or len(mels), len(mels))
    print(
        f"{n} clips x {args.seconds:g} s at {args.sample_rate} Hz, n_fft {args.n_fft}, hop {args.hop_length}, "
        f"{args.n_mels} mels x {mels.shape[2]} frames, {args.n_iter} iterations, copies: {formats}, "
        f"threads {args.threads}; librosa on {n_lib} clips"
    )
    import librosa.feature  # imports and caches warmed outside the timings

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate.render_clips(batches(mels[:1], out), inverter, sample_rate=args.sample_rate, target_dbfs=-20.0,
                                formats=formats)  # fmt: skip
        stages = render_stages(mels, inverter, out, formats)
        t_ours, cpu_ours, _ = timed_cpu(generate.render_clips, batches(mels, out), inverter,
                                        sample_rate=args.sample_rate, target_dbfs=-20.0, formats=formats,
                                        threads=args.threads)  # fmt: skip
        ours = np.stack([audio.read_wav(out / f"clip_{i:03d}.wav")[0] for i in range(n)])
    power = features.unscale(mels[:n_lib], top_db=args.top_db)
    t_lib, cpu_lib, theirs = timed_cpu(lambda: np.stack([
        librosa.feature.inverse.mel_to_audio(p, sr=args.sample_rate, **stft, n_iter=args.n_iter, length=segs.shape[1])
        for p in power
    ]))  # fmt: skip
    sc_ours, sc_lib = spectral_convergences(true_mag, ours, stft), spectral_convergences(true_mag[:n_lib], theirs, stft)

    print(f"\n{'stage (serial, one thread)':40s} {'s total':>8s} {'s/clip':>8s}")
    for name, seconds in stages.items():
        print(f"{name:40s} {seconds:8.2f} {seconds / n:8.4f}")
    print(f"{'sum':40s} {sum(stages.values()):8.2f} {sum(stages.values()) / n:8.4f}\n")
    print(f"{'whole path':40s} {'s total':>8s} {'s/clip':>8s} {'CPU s/clip':>10s} {'spectral convergence':>22s}")
    print(f"{f'ours: render_clips, {args.threads} threads':40s} {t_ours:8.2f} {t_ours / n:8.4f} {cpu_ours / n:10.4f} "
          f"{sc_ours.mean():10.4f} (first {n_lib}: {sc_ours[:n_lib].mean():.4f})")  # fmt: skip
    print(f"{'librosa mel_to_audio alone':40s} {t_lib:8.2f} {t_lib / n_lib:8.4f} {cpu_lib / n_lib:10.4f} "
          f"{sc_lib.mean():10.4f}")  # fmt: skip
    print(f"\nspeed-up per clip, whole path vs librosa: {(t_lib / n_lib) / (t_ours / n):.1f}x wall (goal >= 5x), "
          f"{(cpu_lib / n_lib) / (cpu_ours / n):.1f}x CPU time; load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", help="folder of WAV files to use instead of synthetic music")
    parser.add_argument("--small", action="store_true", help="4 x 1 s segments, n_fft 512, 64 mels, 16 iterations")
    parser.add_argument("--render", action="store_true", help="time the whole rendering path of rule generate")
    parser.add_argument("--batch", type=int, default=None, help="segments (default 16; --render: 120)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--n-fft", type=int, default=2048)
    parser.add_argument("--hop-length", type=int, default=512)
    parser.add_argument("--n-mels", type=int, default=None, help="mel bands (default 256; --render: 128)")
    parser.add_argument("--top-db", type=float, default=80.0)
    parser.add_argument("--n-iter", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="--render: the job's threads")
    parser.add_argument("--formats", default="mp3", help="--render: compressed copies, e.g. mp3,ogg")
    parser.add_argument("--librosa-clips", type=int, default=0, help="--render: time librosa on this many (0: all)")
    args = parser.parse_args(argv)
    args.batch = args.batch or (120 if args.render else 16)
    args.n_mels = args.n_mels or (128 if args.render else 256)
    if args.small:
        args.batch, args.seconds, args.n_fft, args.hop_length, args.n_mels, args.n_iter = 4, 1.0, 512, 128, 64, 16
    if args.render:
        render(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
