"""How the workflow's DAG scales with the number of tracks: resolve, then dry-run.

For each size N (default 100, 1,000 and 5,000), in a fresh working directory under
``$TMPDIR/dagscale-*``, writes N tiny local WAV files (10 ms of silence), a sources.tsv
listing them and a config file pointing ``sources`` at it (the defaults otherwise), then
runs two ``snakemake`` processes, each timed on its own:

1. resolve: ``snakemake results/resolved.tsv``, the ``tracks`` checkpoint for real (a dry
   run cannot see past a checkpoint that has not run);
2. dry run: ``snakemake -n --quiet rules``, the whole DAG with every per-track job
   (download, segment, mel: 3N jobs plus the aggregating rules), job counts parsed from
   its job-stats table.

Times are the process's, start-up included: wall time, and CPU time (user + system,
from ``wait4``), which other load on the machine stretches far less. Peak RSS is that of
the process tree (snakemake and the script job it starts), sampled every 50 ms and never
below the kernel's ``ru_maxrss`` of its largest process. "CPU s / 1k jobs" is the dry
run's CPU time per 1,000 jobs; "marginal" is the extra CPU time per extra 1,000 jobs
against the previous size: constant if the DAG scales linearly, growing with N if
something is quadratic.
``--profile`` reruns the largest dry run under cProfile and prints where the time goes,
the workflow's own functions first; ``--snakefile`` measures another copy of the workflow
(say, a patched one) against the same generated inputs.

Run: ``nice .venv/bin/python benchmarks/dag_scale.py [--tracks 100,1000,5000] [--keep] [--profile]``
(about 1.5 minutes on 2 idle cores for the defaults; ``--profile`` adds twice the largest dry run).
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.05  # one sample of the process tree costs about 2 ms
PER_TRACK_RULES = ("download", "segment", "mel")


def make_workdir(wd: Path, n: int, workflow: Path) -> Path:
    """N tiny WAVs, sources.tsv listing them, config/bench.yaml; returns the config file."""
    (wd / "music").mkdir(parents=True)
    (wd / "config").mkdir()
    silence = bytes(2 * 160)  # 10 ms of 16-bit mono at 16 kHz
    rows = []
    for i in range(n):
        name = f"music/track_{i:05d}.wav"
        with wave.open(str(wd / name), "wb") as fh:
            fh.setnchannels(1)
            fh.setsampwidth(2)
            fh.setframerate(16000)
            fh.writeframes(silence)
        rows.append(f"bench\t{name}\n")
    (wd / "config" / "sources.tsv").write_text("name\turl\n" + "".join(rows))
    # The Snakefile's `configfile: config/config.yaml` is read from the working directory.
    shutil.copy(workflow / "config" / "config.yaml", wd / "config" / "config.yaml")
    bench = wd / "config" / "bench.yaml"
    bench.write_text(yaml.safe_dump({"sources": "config/sources.tsv"}))
    return bench


def tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def measured(cmd: list[str], log: Path) -> tuple[float, float, float]:
    """Run cmd; return wall seconds, CPU seconds (user + system, children included) and the
    peak RSS of its process tree in MiB. Its output goes to log."""
    peak = [0]
    done = threading.Event()
    with open(log, "w") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=log.parent, stdout=fh, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(root))
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # blocking: exact wall time, and the kernel's ru_maxrss
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text()[-4000:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return seconds, usage.ru_utime + usage.ru_stime, max(peak[0] / 2**20, usage.ru_maxrss / 1024)


def snakemake_cmd(row: dict, *options: str, targets: tuple[str, ...] = ()) -> list[str]:
    wd, configfile = row["wd"], row["configfile"]
    return [sys.executable, "-m", "snakemake", "-s", str(row["snakefile"]), "-d", str(wd), "--cores", "1",
            *options, "--configfile", str(configfile), "--", *targets]  # fmt: skip


def job_counts(log_text: str) -> dict[str, int]:
    """The last job-stats table of a dry run: {rule: count, ..., 'total': n}."""
    tables = log_text.split("Job stats:")
    if len(tables) < 2:
        raise SystemExit(f"no job-stats table in the dry run's output:\n{log_text[-2000:]}")
    counts = {}
    for line in tables[-1].splitlines()[3:]:
        m = re.fullmatch(r"(\S+)\s+(\d+)", line.strip())
        if not m:
            break
        counts[m[1]] = int(m[2])
    return counts


def measure(root: Path, n: int, snakefile: Path) -> dict:
    wd = root / f"n{n}"
    row = {"tracks": n, "wd": wd, "snakefile": snakefile, "configfile": make_workdir(wd, n, snakefile.parent)}
    resolve_s, _, resolve_mb = measured(snakemake_cmd(row, targets=("results/resolved.tsv",)), wd / "resolve.log")
    dry_log = wd / "dryrun.log"
    dry_s, dry_cpu, dry_mb = measured(snakemake_cmd(row, "--dry-run", "--quiet", "rules"), dry_log)
    counts = job_counts(dry_log.read_text())
    wrong = {r: counts.get(r, 0) for r in PER_TRACK_RULES if counts.get(r, 0) != n}
    if wrong or "tracks" in counts:
        raise SystemExit(f"{n} tracks: the dry run did not see every per-track job: {counts} (see {dry_log})")
    return row | {"jobs": counts["total"], "resolve_s": resolve_s, "resolve_mb": resolve_mb,
                  "dry_s": dry_s, "dry_cpu": dry_cpu, "dry_mb": dry_mb}  # fmt: skip


def profile(row: dict, top: int) -> None:
    """The largest dry run again under cProfile: the workflow's functions, then the costliest overall."""
    out = row["wd"] / "dryrun.prof"
    cmd = snakemake_cmd(row, "--dry-run", "--quiet", "rules")
    cmd[1:3] = ["-m", "cProfile", "-o", str(out), "-m", "snakemake"]
    measured(cmd, row["wd"] / "profile.log")
    stats = pstats.Stats(str(out))
    own = re.escape(str(row["snakefile"].parent)) + "/(workflow/|Snakefile)"
    for title, sort, pattern in [
        ("the workflow's own functions, by cumulative time", "cumulative", own),
        ("costliest functions overall, by own time", "tottime", ""),
    ]:
        buf = io.StringIO()
        stats.stream = buf
        stats.sort_stats(sort).print_stats(pattern, top)
        body = buf.getvalue()
        start = body.find("   ncalls")
        print(f"\n{row['tracks']} tracks, dry run under cProfile: {title}")
        print(body[start:].rstrip() if start >= 0 else "  (none)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", default="100,1000,5000", help="comma-separated numbers of local tracks")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--profile", action="store_true", help="profile the largest dry run with cProfile")
    parser.add_argument("--top", type=int, default=12, help="rows per --profile listing")
    parser.add_argument("--snakefile", type=Path, default=REPO / "Snakefile",
                        help="the workflow to measure, e.g. a patched copy (its config/config.yaml is the base config)")  # fmt: skip
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.tracks.split(","))
    root = Path(tempfile.mkdtemp(prefix="dagscale-"))
    print(f"{args.snakefile}; working directories under {root}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    try:
        rows = []
        for n in sizes:
            rows.append(measure(root, n, args.snakefile.resolve()))
            r = rows[-1]
            print(f"  {n} tracks: resolve {r['resolve_s']:.1f} s, dry run of {r['jobs']} jobs {r['dry_s']:.1f} s "
                  f"({r['dry_cpu']:.1f} s CPU)", flush=True)  # fmt: skip
        print(f"load average at the end {os.getloadavg()[0]:.1f} (wall times stretch when it exceeds the CPUs)\n")
        print("| tracks | jobs | resolve s | resolve MB | dry-run s | dry-run CPU s | dry-run MB "
              "| CPU s / 1k jobs | marginal CPU s / 1k jobs |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        prev = None
        for r in rows:
            marginal = "-"
            if prev is not None:
                marginal = f"{(r['dry_cpu'] - prev['dry_cpu']) / (r['jobs'] - prev['jobs']) * 1000:.2f}"
            print(f"| {r['tracks']:,} | {r['jobs']:,} | {r['resolve_s']:.1f} | {r['resolve_mb']:.0f} | {r['dry_s']:.1f} "
                  f"| {r['dry_cpu']:.1f} | {r['dry_mb']:.0f} | {r['dry_cpu'] / r['jobs'] * 1000:.2f} | {marginal} |")  # fmt: skip
            prev = r
        if len(rows) > 1:
            a, b = rows[0], rows[-1]
            print(f"\n{b['jobs'] / a['jobs']:.1f}x the jobs took {b['dry_cpu'] / a['dry_cpu']:.1f}x the dry run's CPU "
                  f"time ({b['dry_s'] / a['dry_s']:.1f}x its wall time) and {b['dry_mb'] / a['dry_mb']:.1f}x its memory")  # fmt: skip
        if args.profile:
            profile(rows[-1], args.top)
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
