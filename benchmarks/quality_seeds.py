"""How much of a quality difference is the seed's? ``benchmarks/quality.py`` runs of several seeds, side by side.

``quality.py --seed N`` trains every configuration with ``train.seed`` N and writes
``<out>/<corpus>/quality-<holdout-by>[-seedN].json``. This script reads those files (nothing is
trained or embedded again) and prints, per configuration, every seed's mel FD (as a multiple of
real-vs-real) and kernel-distance gap closed in each embedding space (and the clip spreads, where the
files hold them), their mean and range, and how many seeds each configuration beats the first one on
(the same seed trains both, so the pairs share the split, the clips' latents and the references):

    nice .venv/bin/python benchmarks/quality.py --corpus wesnoth --holdout-by end-blocks --configs 4,2 --seed 1
    .venv/bin/python benchmarks/quality_seeds.py --corpus wesnoth --holdout-by end-blocks [--out /tmp/audiowgan-quality]
    .venv/bin/python benchmarks/quality_seeds.py --corpus wesnoth --holdout-by end-blocks --configs 17,18  # 18 against 17

A difference that one seed shows and the next reverses is noise at that budget, not a better setting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from quality import REAL, SPREADS, config_names, gap_closed, x_training


def load_runs(folder: Path, holdout_by: str) -> dict[int, dict]:
    """{seed: the JSON record of quality.py} for every seed's file in ``folder``."""
    records = {}
    for path in sorted(folder.glob(f"quality-{holdout_by}*.json")):
        record = json.loads(path.read_text())
        records[int(record["args"].get("seed", 0))] = record
    if not records:
        raise SystemExit(f"no quality-{holdout_by}*.json in {folder}: run benchmarks/quality.py first")
    return dict(sorted(records.items()))


def scores(table: dict, name: str, embedders: list[str]) -> dict[str, float]:
    """One set's mel FD over real-vs-real's, each embedder's kernel-distance gap closed (0 = pink noise, 1 = real),
    and, where the record has them, its mel FD to training segments over the training copy's and its clip spreads
    over real-vs-real's."""
    out = {"mel FD x real": table[name]["mel_fd"] / table[REAL]["mel_fd"]}
    if "mel_fd_training" in table[name]:
        out["mel FD x training"] = x_training(table, name)
    out |= {f"{e} gap closed": gap_closed(table, name, e) for e in embedders}
    return out | {
        m: table[name][k] / table[REAL][k] for k, m in SPREADS.items() if k in table[name] and k in table[REAL]
    }


def better(metric: str, values: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Where ``values`` beat ``base``: a lower mel FD, a larger gap closed, a spread nearer real's (1)."""
    if metric.startswith("mel"):
        return values < base
    if metric.endswith("x real"):
        return np.abs(np.log(values)) < np.abs(np.log(base))
    return values > base


def trained_names(records: dict[int, dict]) -> list[str]:
    """The configurations every seed trained, in the first record's order."""
    names = list(next(iter(records.values()))["runs"])
    return [n for n in names if all(n in r["runs"] for r in records.values())]


def chosen(names: list[str], configs: str) -> list[str]:
    """The configurations of ``configs`` (indices into quality.py's CONFIGS, the first the baseline), or every one
    in ``names`` when it is empty; exits naming any that not every seed trained."""
    if not configs:
        return names
    wanted = [name for _, name in config_names(configs)]
    missing = [n for n in wanted if n not in names]
    if missing:
        raise SystemExit(f"not trained with every seed: {missing}")
    return wanted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="wesnoth")
    ap.add_argument("--holdout-by", default="auto", choices=["auto", "end-blocks"])
    ap.add_argument("--out", type=Path, default=Path("/tmp/audiowgan-quality"), help="quality.py's --out")
    ap.add_argument("--configs", default="", help="comma-separated indices into quality.py's CONFIGS, the first the "
                    "one the others are compared with (default: every configuration all seeds trained)")  # fmt: skip
    args = ap.parse_args()
    records = load_runs(args.out / args.corpus, args.holdout_by)
    embedders = next(iter(records.values()))["args"]["embedders"].split(",")
    names = chosen(trained_names(records), args.configs)
    table = {n: {s: scores(r["table"], n, embedders) for s, r in records.items()} for n in names}
    seeds = list(records)
    print(f"{args.corpus}, held out by {args.holdout_by}, seeds {', '.join(map(str, seeds))}; "
          f"wins: seeds on which a configuration beats '{names[0]}'\n")  # fmt: skip
    metrics = [
        m for m in next(iter(table[names[0]].values())) if all(m in t for r in table.values() for t in r.values())
    ]
    print("| configuration | " + " | ".join(f"{m}: per seed / mean [range] / wins" for m in metrics) + " |")
    print("|---" * (1 + len(metrics)) + "|")
    for n in names:
        cells = []
        for m in metrics:
            values = np.array([table[n][s][m] for s in seeds])
            base = np.array([table[names[0]][s][m] for s in seeds])
            fmt = (lambda v: f"{v:.2f}") if " x " in m else (lambda v: f"{100 * v:.0f}%")
            wins = "" if n == names[0] else f" / {int(better(m, values, base).sum())} of {len(seeds)}"
            cells.append(f"{' '.join(fmt(v) for v in values)} / {fmt(values.mean())} "
                         f"[{fmt(values.min())} to {fmt(values.max())}]{wins}")  # fmt: skip
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
