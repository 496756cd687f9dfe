"""Preprocessing through Snakemake vs the same work in one Python loop.

Measures, on synthetic music with the default audio and mel settings:

1. wall time of segment + mel + pack run by Snakemake (``--cores N``, one job per
   track), against the same functions called in one Python process, one track
   after another; the ratio is what the workflow's per-job overhead costs
   (goal: within 1.5x); and the same loop with segments side by side
   (``audio.segment_overlap: 0``): what the default overlap costs in preprocessing;
2. the peak memory (Snakemake's ``benchmark:`` max_rss of the job) of the
   ``segment`` stage on one long file (default 2 hours; goal: under 1 GB).

Run: ``.venv/bin/python benchmarks/preprocess.py [--minutes 10] [--tracks 4] [--hours 2]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from audiowgan.core.settings import MelSpec  # noqa: E402
from audiowgan.data import pack as dataset  # noqa: E402
from audiowgan.dsp import audio  # noqa: E402
from audiowgan.dsp import mel as features  # noqa: E402
from audiowgan.ingest import demo  # noqa: E402


def snakemake(workdir: Path, cores: int, *targets: str) -> float:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", str(cores),
           "--configfile", str(workdir / "config" / "bench.yaml"), "--", *(targets or ["results/dataset/meta.json"])]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(targets)} failed:\n{proc.stderr[-4000:]}")
    return elapsed


def prepare(wd: Path, cores: int) -> None:
    """Resolve sources and download: not part of the comparison. The checkpoint must
    have run before per-track files can be asked for."""
    snakemake(wd, cores, "results/resolved.tsv")
    snakemake(wd, cores, *(f"results/audio/{t}.mp3" for t in track_ids(wd)))


def track_ids(wd: Path) -> list[str]:
    return pd.read_csv(wd / "results" / "resolved.tsv", sep="\t")["track"].tolist()


def make_workdir(root: Path, files: list[Path]) -> Path:
    (root / "config").mkdir(parents=True)
    shutil.copy(REPO / "config" / "config.yaml", root / "config" / "config.yaml")
    (root / "config" / "bench.yaml").write_text(yaml.safe_dump({"sources": "config/sources.tsv"}))
    rows = "".join(f"bench\t{f}\n" for f in files)
    (root / "config" / "sources.tsv").write_text("name\turl\n" + rows)
    return root


def write_long_wav(path: Path, seconds: float, sample_rate: int) -> None:
    """A long file written a minute at a time, so the benchmark itself stays small."""
    minute = demo.piece(seed=7, seconds=60, sample_rate=sample_rate)
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16") as fh:
        for _ in range(int(seconds // 60)):
            fh.write(minute)


def timing(args, tmp: Path) -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sr = cfg["audio"]["sample_rate"]
    per_track = args.minutes * 60 / args.tracks
    files = []
    for i in range(args.tracks):
        path = tmp / "music" / f"piece_{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        audio.write_wav(path, demo.piece(seed=i, seconds=per_track, sample_rate=sr), sr)
        files.append(path)
    wd = make_workdir(tmp / "wd", files)
    prepare(wd, args.cores)

    workflow_s = snakemake(wd, args.cores)

    loop_s = loop(wd, tmp / "loop")
    overlap_s, side_s = overlap_cost(wd, tmp)
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--loop", str(wd), str(tmp / "loop_process")], check=True)
    process_s = time.perf_counter() - start
    loop_dir = tmp / "loop"
    a, b = np.load(wd / "results" / "dataset" / "mels.npy"), np.load(loop_dir / "dataset" / "mels.npy")
    # BLAS sums in a thread-count-dependent order (a job gets its `threads`, the loop all cores):
    # equal up to float32 rounding, not bit for bit.
    same = a.shape == b.shape and float(np.max(np.abs(a - b)))
    n = np.load(loop_dir / "dataset" / "mels.npy", mmap_mode="r").shape
    side = np.load(tmp / "loop_side_by_side_0" / "dataset" / "mels.npy", mmap_mode="r").shape
    return {"workflow_s": workflow_s, "loop_s": loop_s, "process_s": process_s, "identical": same, "shape": n,
            "overlap_s": overlap_s, "side_by_side_s": side_s, "side_by_side_shape": side}  # fmt: skip


def overlap_cost(wd: Path, tmp: Path, rounds: int = 2) -> tuple[float, float]:
    """The loop's best time at the default overlap and with segments side by side, in alternating rounds
    (the first loop of a process also pays librosa's and numpy's first calls)."""
    default, side = [], []
    for r in range(rounds):
        side.append(loop(wd, tmp / f"loop_side_by_side_{r}", segment_overlap=0.0))
        default.append(loop(wd, tmp / f"loop_default_{r}"))
    return min(default), min(side)


def loop(wd: Path, out: Path, **audio_overrides) -> float:
    """segment + mel + pack of every downloaded track, one after another, in this process."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["audio"].update(audio_overrides)
    start = time.perf_counter()
    mel_dirs = {}
    for mp3 in sorted((wd / "results" / "audio").glob("*.mp3")):
        seg_dir, mel_dir = out / "segments" / mp3.stem, out / "mel" / mp3.stem
        audio.segment_track(mp3, {"status": "ok"}, seg_dir, **cfg["audio"])
        features.mel_directory(seg_dir, mel_dir, spec=MelSpec.from_mapping(cfg["mel"]), threads=1)
        mel_dirs[mp3.stem] = mel_dir
    dataset.pack(mel_dirs, out / "dataset", holdout_fraction=cfg["evaluate"]["holdout_fraction"])
    return time.perf_counter() - start


def memory(args, tmp: Path) -> dict:
    sr = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["audio"]["sample_rate"]
    long = tmp / "long" / "long.wav"
    long.parent.mkdir(parents=True)
    write_long_wav(long, args.hours * 3600, sr)
    wd = make_workdir(tmp / "wd_long", [long])
    prepare(wd, args.cores)
    seconds = snakemake(wd, args.cores, *(f"results/segments/{t}" for t in track_ids(wd)))
    found = list((wd / "results" / "benchmarks").rglob("*.tsv"))
    bench = next(p for p in found if p.parent.name == "segment")
    max_rss = float(pd.read_csv(bench, sep="\t")["max_rss"].iloc[0])
    return {"hours": args.hours, "segment_max_rss_mb": max_rss, "segment_s": seconds,
            "decoded_whole_mb": args.hours * 3600 * sr * 4 / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of audio for the timing")
    parser.add_argument("--tracks", type=int, default=4, help="tracks the minutes are split into")
    parser.add_argument("--hours", type=float, default=2.0, help="length of the file for the memory test (0: skip)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--loop", nargs=2, metavar=("WORKDIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:  # the fresh-process baseline: interpreter start and imports included
        loop(Path(args.loop[0]), Path(args.loop[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = timing(args, Path(tmp))
        print(f"segment+mel+pack of {args.minutes:g} min in {args.tracks} track(s) -> dataset {t['shape']}")
        print(f"  snakemake --cores {args.cores}: {t['workflow_s']:.1f} s")
        print(f"  one Python loop, in this process:    {t['loop_s']:.1f} s")
        print(f"  one Python loop, as its own process: {t['process_s']:.1f} s (start-up and imports included)")
        print(f"  ratio workflow / loop in process:    {t['workflow_s'] / t['loop_s']:.2f}x")
        print(f"  ratio workflow / loop as a process:  {t['workflow_s'] / t['process_s']:.2f}x (goal <= 1.5x)")
        print(f"  same dataset: largest difference {t['identical']:.2g} (on a [-1, 1] scale)")
        print(f"  the loop again, best of 2 alternating rounds: {t['overlap_s']:.1f} s at the default overlap, "
              f"{t['side_by_side_s']:.1f} s side by side -> dataset {t['side_by_side_shape']}: the overlap costs "
              f"{t['overlap_s'] / t['side_by_side_s']:.2f}x")  # fmt: skip
        if args.hours > 0:
            m = memory(args, Path(tmp))
            print(f"segment stage on a {m['hours']:g}-hour file: peak RSS {m['segment_max_rss_mb']:.0f} MB "
                  f"(goal < 1024 MB; decoded whole it would be {m['decoded_whole_mb']:.0f} MB), {m['segment_s']:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
