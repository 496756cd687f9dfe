"""What ``evaluate`` and ``nearest`` cost per clip, and what the whole-set Gram matrix saves the kernel distance.

On a finished run (default ``results/``, e.g. after ``make run``), in one process and with the run's own
settings (read from ``config/config.yaml`` merged with ``--configfile``):

1. the kernel distance alone on the run's CREPE sets (generated clips against half A of the held-out
   segments): per-subset Gram matrices (the old way, forced) against the whole-set Gram matrix, and their ratio;
2. :func:`audiowgan.look.evaluate.evaluate` twice, with the per-subset kernel distance and with the
   default, written to a temporary folder, wall and CPU time (TensorFlow loaded and warmed up beforehand);
3. :func:`audiowgan.look.nearest.copy_check`, the copy check of the clips and long pieces.

Times are per run and per clip; CPU time (process_time) is stretched far less by other load than wall
time. Run: ``nice .venv/bin/python benchmarks/evaluate_cost.py --configfile config/demo.yaml``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from audiowgan.core.settings import AudioSpec  # noqa: E402
from audiowgan.data import pack as dataset  # noqa: E402
from audiowgan.dsp import mel as features  # noqa: E402
from audiowgan.look import distances, embedders, nearest  # noqa: E402
from audiowgan.look import evaluate as evaluation  # noqa: E402


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def settings(configfile: str | None) -> dict:
    cfg = yaml.safe_load(Path("config/config.yaml").read_text())
    for section, values in (yaml.safe_load(Path(configfile).read_text()) if configfile else {}).items():
        cfg[section] = {**cfg[section], **values} if isinstance(values, dict) else values
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--configfile", default=None)
    args = ap.parse_args()
    res, cfg = Path(args.results), settings(args.configfile)
    clips = sorted((res / "generated").glob("clip_*.wav"))
    _, meta = dataset.open_dataset(res / "dataset")
    sr = AudioSpec.from_meta(meta).sample_rate
    heldout = dataset.distinct_rows(res / "dataset", "heldout", AudioSpec.from_meta(meta).span_hops)
    a_rows, _ = evaluation.split_halves(heldout, cfg["evaluate"]["seed"])
    crepe = embedders.module("crepe")
    ref = crepe.clip_embeddings(evaluation.segment_waves(res / "dataset", res / "segments", a_rows), sample_rate=sr)
    emb = crepe.clip_embeddings(features.read_clips(clips, meta), sample_rate=sr)  # also warms TensorFlow up
    print(f"{len(clips)} clips; CREPE sets of {len(emb)} and {len(ref)} frames")

    gram = distances.whole_set_gram
    per_subset = lambda *a, **k: False  # noqa: E731
    kd_new, t_new, _ = timed(distances.kernel_distance, emb, ref)
    distances.whole_set_gram = per_subset
    kd_old, t_old, _ = timed(distances.kernel_distance, emb, ref)
    distances.whole_set_gram = gram
    print(f"kernel distance, one set: per-subset {t_old:.2f} s, whole-set Gram {t_new:.2f} s, "
          f"{t_old / t_new:.1f}x; values {kd_old:.6g} and {kd_new:.6g}")  # fmt: skip

    ev, gen = cfg["evaluate"], cfg["generate"]
    kwargs = dict(dataset_dir=res / "dataset", segments_root=res / "segments", clips=clips,
                  generator_mels=res / "generated" / "mels.npy", seed=ev["seed"],
                  round_trip_segments=ev["round_trip_segments"], griffin_lim_iters=gen["griffin_lim_iters"],
                  inversion_method=gen["inversion"], target_dbfs=gen["target_dbfs"], perceptual=ev["perceptual"])  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for label, choice in (("per-subset kernel", per_subset), ("whole-set Gram", gram)):
            distances.whole_set_gram = choice
            _, wall, cpu = timed(evaluation.evaluate, out=Path(tmp) / "metrics.json", **kwargs)
            print(f"evaluate ({label}): {wall:.1f} s wall, {cpu:.1f} s CPU; per clip {wall / len(clips):.2f} s wall")
        distances.whole_set_gram = gram
        pieces = pd.read_csv(res / "longform" / "manifest.csv")
        pieces["path"] = [str(res / "longform" / p) for p in pieces["piece"]]
        table, wall, cpu = timed(nearest.copy_check, dataset_dir=res / "dataset", segments_root=res / "segments",
                                 clips=clips, pieces=pieces, out_csv=Path(tmp) / "nearest.csv",
                                 out_dir=Path(tmp) / "nearest", quantile=ev["copy_quantile"],
                                 perceptual=ev["perceptual"])  # fmt: skip
    n_train = len(dataset.split_rows(res / "dataset", "train"))
    print(
        f"nearest: {wall:.1f} s wall, {cpu:.1f} s CPU for {table['clip'].nunique()} clips and pieces "
        f"({len(table) // table['space'].nunique()} queries) against {n_train} training segments"
    )


if __name__ == "__main__":
    main()
