"""How wide the noise-to-music scale is in CREPE space and in musicnn space, on real recordings.

Segments of real music are cut from the audio files under ``--real`` (folders searched for
.ogg/.wav/.flac/.mp3, e.g. the Debian soundtracks of ``benchmarks/real_corpus.py``), alternate
tracks go to halves A and B (so real-vs-real compares different pieces of one corpus, as held-out
music differs from training music), and A is compared with B, with white noise and with pink
noise (``look.evaluate.noise_waves``: -20 dBFS, as many clips as B) by the Frechet distance
(``look.distances.frechet_distance``) and the unbiased kernel distance (``kernel_distance``) in
both embedding spaces (CREPE tiny frames; musicnn MSD ``penultimate`` windows). The ratio noise /
real-vs-real says how far apart music and noise are in units of the real-vs-real floor.

    nice .venv/bin/python benchmarks/embedding_scale.py --real benchmarks/.cache/wesnoth-1.16-music
    nice .venv/bin/python benchmarks/embedding_scale.py --real DIR --segments-per-track 2 --max-tracks 8  # quick

Segments are taken evenly from 10 % to 90 % of each track, resampled to 16 kHz (mono). Prints a
table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

SR = 16000
SUFFIXES = {".ogg", ".wav", ".flac", ".mp3"}


def audio_paths(folders: list[Path], max_tracks: int | None) -> list[Path]:
    """Audio files under ``folders``, without real_corpus.py's jingles and near-duplicate mixes."""
    from real_corpus import CORPORA

    excluded = set().union(*(c.exclude for c in CORPORA.values()))
    paths = sorted(
        p
        for f in folders
        for p in f.rglob("*")
        if p.suffix.lower() in SUFFIXES and p.is_file() and p.stem not in excluded
    )
    if not paths:
        sys.exit(f"no audio files under {[str(f) for f in folders]}")
    return paths[:max_tracks] if max_tracks else paths


def track_segments(path: Path, *, seconds: float, count: int) -> np.ndarray:
    """(count, seconds * 16000) float32 segments spread over 10-90 % of the track (fewer if it is short)."""
    import librosa

    wave, _ = librosa.load(path, sr=SR, mono=True)
    n = int(seconds * SR)
    lo, hi = int(0.1 * len(wave)), int(0.9 * len(wave)) - n
    if hi <= lo:
        return np.zeros((0, n), np.float32)
    starts = np.linspace(lo, hi, count).astype(int)
    return np.stack([wave[s : s + n] for s in starts]).astype(np.float32)


def halves(paths: list[Path], *, seconds: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    sets = ([], [])
    for i, path in enumerate(paths):
        sets[i % 2].append(track_segments(path, seconds=seconds, count=count))
    return np.concatenate(sets[0]), np.concatenate(sets[1])


def distances_in(space: str, embed, a: np.ndarray, others: dict[str, np.ndarray], seed: int) -> dict:
    from audiowgan.look import distances

    start = time.perf_counter()
    ref = embed(a)
    out = {"rows_a": len(ref), "dimension": ref.shape[1]}
    for name, waves in others.items():
        rows = embed(waves)
        out[name] = {
            "frechet": distances.frechet_distance(rows, ref),
            "kernel": distances.kernel_distance(rows, ref, seed=seed),
        }
    out["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{space}: {out['seconds']} s", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, nargs="+", required=True, help="folders of real recordings")
    parser.add_argument("--seconds", type=float, default=5.0, help="segment length (the real configs': 5)")
    parser.add_argument("--segments-per-track", type=int, default=6)
    parser.add_argument("--max-tracks", type=int, help="the first N files (sorted by path)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from audiowgan.look.evaluate import noise_waves
    from audiowgan.nn import crepe, musicnn

    paths = audio_paths(args.real, args.max_tracks)
    a, b = halves(paths, seconds=args.seconds, count=args.segments_per_track)
    noise = {k: noise_waves(k, n=len(b), length=b.shape[1], seed=args.seed) for k in ("white", "pink")}
    others = {"real_vs_real": b, "white_noise_vs_real": noise["white"], "pink_noise_vs_real": noise["pink"]}
    print(f"{len(paths)} tracks: A {len(a)} and B {len(b)} segments of {args.seconds} s", file=sys.stderr)
    spaces = {
        "crepe-tiny": lambda w: crepe.clip_embeddings(w, sample_rate=SR),
        "musicnn-msd-penultimate": lambda w: musicnn.clip_embeddings(w, sample_rate=SR),
    }
    report = {"tracks": len(paths), "segments": [len(a), len(b)], "seconds": args.seconds}
    for space, embed in spaces.items():
        report[space] = distances_in(space, embed, a, others, args.seed)
    print(
        f"{'space':26s} {'distance':8s} {'real':>10s} {'white':>10s} {'pink':>10s} {'white/real':>10s} {'pink/real':>10s}"
    )
    for space in spaces:
        r = report[space]
        for d in ("frechet", "kernel"):
            real, white, pink = (r[k][d] for k in others)
            print(
                f"{space:26s} {d:8s} {real:10.4g} {white:10.4g} {pink:10.4g} {white / real:10.3g} {pink / real:10.3g}"
            )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
