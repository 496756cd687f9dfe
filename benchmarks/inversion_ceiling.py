"""What does the inversion cost the clips? The ceiling and the quality benchmark's snapshots at other inversion settings.

For each ``--iters`` count, the inversion ceiling (half B's own mels) and every snapshot of ``--config`` and
``--seeds`` that ``quality.py`` trained under ``--out`` are rendered with that many fast Griffin-Lim iterations
(the same latents and loudness as ``quality.py``'s clips) and scored against the same references; no training.
With ``--mels``, the ceiling also at those mel band counts: half B's audio through that many bands and back
(32 iterations), what a generator that made exactly the real mels at that resolution would score.

    nice .venv/bin/python benchmarks/inversion_ceiling.py --corpus wesnoth --iters 32,64,128 --config 22 --seeds 0,1,2,3
    nice .venv/bin/python benchmarks/inversion_ceiling.py --corpus wesnoth --iters 32 --seeds "" --mels 64,96,128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "benchmarks")]

import quality  # noqa: E402  (the benchmarks are scripts, not a package)

from audiowgan.dsp import audio  # noqa: E402
from audiowgan.dsp import mel as features  # noqa: E402
from audiowgan.render import generate as generation  # noqa: E402

EMBEDDERS = ["crepe", "musicnn"]


def rendered(snapshot: Path, meta: Path, iters: int, n: int) -> np.ndarray:
    """``n`` clips of ``snapshot``'s moving average (quality.py's latents) at ``iters`` iterations and -20 dBFS."""
    renderer = generation.Renderer(snapshot, dataset_meta=meta, griffin_lim_iters=iters)
    z = np.stack([generation.latent(1000 + k, renderer.noise_dim) for k in range(n)])
    return np.stack([audio.normalise_loudness(w, target_dbfs=-20) for w in renderer.audio(renderer.mels(z))])


def ceiling_at_bands(real_waves: np.ndarray, meta: dict, n_mels: int) -> np.ndarray:
    """Real audio through ``n_mels`` bands (the benchmark's other mel settings) and the ceiling's inversion."""
    mels = features.waves_mels(real_waves, {**meta, "n_mels": n_mels})
    return quality.inversion_ceiling(mels, mel=quality.mel_at(n_mels))


def snapshot_set(config: int, seed: int, iters: int) -> str:
    """The table's name for configuration ``config``'s clips of ``seed`` rendered at ``iters`` iterations."""
    return f"config {config} seed {seed}, {iters} iterations"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="wesnoth")
    ap.add_argument("--iters", default="32,64,128", help="comma-separated Griffin-Lim iteration counts")
    ap.add_argument("--config", type=int, default=22, help="quality.py's configuration index whose snapshots to render")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds of its runs (under --out); '' for none")
    ap.add_argument("--mels", default="", help="comma-separated mel band counts for more ceiling rows")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("/tmp/audiowgan-quality"))
    args = ap.parse_args()
    from audiowgan.nn import devices

    devices.configure_threads(1)
    out = args.out / args.corpus
    base = out / "side-by-side" / "dataset-end-blocks"
    held = quality.HeldOut.open(base, out / "side-by-side" / "segments", args.clips)
    iters, seeds = [int(k) for k in args.iters.split(",")], [int(s) for s in args.seeds.split(",") if s]
    sets = {quality.REAL: held.real_waves, quality.PINK: held.pink_waves}
    for n_mels in [int(k) for k in args.mels.split(",") if k]:
        sets[f"ceiling, {n_mels} mel bands"] = ceiling_at_bands(held.real_waves, held.meta, n_mels)
    for k in iters:
        sets[f"ceiling, {k} iterations"] = quality.inversion_ceiling(np.asarray(held.mels[held.b_rows]), k)
        for s in seeds:
            snapshot = out / quality.run_name(args.config, "end-blocks", s) / "snapshot"
            sets[snapshot_set(args.config, s, k)] = rendered(snapshot, base / "meta.json", k, held.n)
    table = quality.distances(sets, held.reference_waves, held.reference_mels, held.meta, held.n, EMBEDDERS)
    real = table[quality.REAL]["mel_fd"]
    print("| set | mel FD x real | " + " | ".join(f"{e} gap closed" for e in EMBEDDERS) + " |\n|---|---|---|---|")
    for name in table:
        gaps = " | ".join(f"{100 * quality.gap_closed(table, name, e):.0f}%" for e in EMBEDDERS)
        print(f"| {name} | {table[name]['mel_fd'] / real:.2f} | {gaps} |")
    for k in iters if seeds else []:
        names = [snapshot_set(args.config, s, k) for s in seeds]
        rows = [table[name] for name in names]
        gaps = [np.mean([quality.gap_closed(table, name, e) for name in names]) for e in EMBEDDERS]
        print(f"mean of seeds, {k} iterations: mel FD {np.mean([r['mel_fd'] for r in rows]) / real:.2f}x real, "
              + ", ".join(f"{e} {100 * g:.0f}%" for e, g in zip(EMBEDDERS, gaps)))  # fmt: skip


if __name__ == "__main__":
    main()
