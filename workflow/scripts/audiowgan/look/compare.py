"""The experiments' comparison page (rule compare): results/experiments/comparison.html, .csv, .md, losses.png.

One table of every run's distances to held-out music beside the baselines (real vs real, noise), the
loss curves of all runs overlaid in one figure, and per run its overrides, a row of clip spectrograms
with a player under each and a link to its own report. Rendered like the report (Jinja2, autoescaping,
relative links, no JavaScript). No TensorFlow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from audiowgan.core import atomic
from audiowgan.look.plots import plot_loss_overlay

TEMPLATE = Path(__file__).resolve().parent / "templates" / "compare.html.j2"
BASELINES = (  # (key in metrics.json, row name): the rows every run is read against
    ("real_vs_real", "real vs real (held-out half B)"),
    ("noise_vs_real", "uniform noise mels"),
    ("white_noise_vs_real", "white noise"),
    ("pink_noise_vs_real", "pink noise"),
)
COLUMNS = ["set", "kind", "steps", "mel_fd", "x_real", "crepe_fd", "crepe_kd", "kd_gap_closed", "musicnn_kd",
           "musicnn_gap_closed", "clips_differ", "clip_moves"]  # fmt: skip
# metrics.json's clip_spread keys and their columns: generated over real vs real (1 = as varied as real music)
SPREADS = {"between": "clips_differ", "within": "clip_moves"}


def _distances(metrics: Mapping, key: str) -> dict:
    perceptual = metrics.get("perceptual") or {}
    if "frechet" in perceptual:  # a bare CREPE entry, as metrics.json held it before musicnn
        perceptual = {"crepe": perceptual}
    crepe, musicnn = perceptual.get("crepe") or {}, perceptual.get("musicnn") or {}
    return {
        "mel_fd": (metrics.get("frechet_distance") or {}).get(key),
        "crepe_fd": (crepe.get("frechet") or {}).get(key),
        "crepe_kd": (crepe.get("kernel") or {}).get(key),
        "musicnn_kd": (musicnn.get("kernel") or {}).get(key),
    }


def _spreads(metrics: Mapping, key: str) -> dict:
    """A set's clip spreads over real vs real's: a run's from its metrics.json, 1 for real vs real itself, none
    for the noise rows (metrics.json holds no spreads of noise) or where a run had fewer than two clips."""
    spread = metrics.get("clip_spread")
    if spread is None or key not in ("generated", "real_vs_real"):
        return {}
    ratios = spread["generated_over_real"] if key == "generated" else dict.fromkeys(SPREADS, 1.0)
    return {column: ratios.get(k) for k, column in SPREADS.items()}


def _row(metrics: Mapping, key: str) -> dict:
    return {**_distances(metrics, key), **_spreads(metrics, key)}


def distance_table(metrics: Mapping[str, Mapping], steps: Mapping[str, int]) -> pd.DataFrame:
    """Baseline rows (from the first run's metrics), then one row per run (its ``generated`` distances).

    ``x_real`` is the mel FD over real-vs-real's; ``kd_gap_closed`` (CREPE) and ``musicnn_gap_closed`` how much
    of the way from pink noise to real-vs-real a set's kernel distance has come (1 = as close as real music);
    ``clips_differ`` and ``clip_moves`` the clip spreads over real-vs-real's (1 = as varied as real music).
    """
    first = next(iter(metrics.values()))
    rows = [{"set": name, "kind": "baseline", **_row(first, key)} for key, name in BASELINES]
    rows += [{"set": run, "kind": "run", "steps": steps.get(run), **_row(m, "generated")}
             for run, m in metrics.items()]  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    numbers = COLUMNS[2:]
    table[numbers] = table[numbers].apply(pd.to_numeric)  # None (no embeddings, no steps) becomes NaN
    real, pink = table.iloc[0], table.iloc[3]
    table["x_real"] = table["mel_fd"] / real["mel_fd"]
    for kd, closed in (("crepe_kd", "kd_gap_closed"), ("musicnn_kd", "musicnn_gap_closed")):
        table[closed] = (pink[kd] - table[kd]) / (pink[kd] - real[kd])
    return table


def cells(row) -> list[str]:
    """A table row's numbers as printed, in ``HEADS`` order (blank: none)."""

    def f(value, digits: int, unit: str = "") -> str:
        return "" if pd.isna(value) else f"{value:.{digits}f}{unit}"

    return [f(row.steps, 0), f(row.mel_fd, 3), f(row.x_real, 2), f(row.crepe_fd, 3), f(row.crepe_kd, 4),
            f(100 * row.kd_gap_closed, 0, "%"), f(row.musicnn_kd, 3), f(100 * row.musicnn_gap_closed, 0, "%"),
            f(row.clips_differ, 2), f(row.clip_moves, 2)]  # fmt: skip


# The printed columns after "set", in the page's and comparison.md's header
HEADS = ["steps", "mel FD", "x real", "CREPE FD", "CREPE KD", "KD gap closed", "musicnn KD", "musicnn gap closed",
         "clips differ x real", "each clip moves x real"]  # fmt: skip


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown, in the layout of docs/training-log.md's quality tables."""
    head = "| set | " + " | ".join(HEADS) + " |\n" + "|---" * (1 + len(HEADS)) + "|\n"
    return head + "".join(f"| {r.set} | {' | '.join(cells(r))} |\n" for r in table.itertuples())


def write_comparison(
    *,
    runs: Sequence[str],
    metrics: Sequence[str | Path],
    losses: Sequence[str | Path],
    reports: Sequence[str | Path],
    clips: Sequence[str | Path],
    clip_images: Sequence[str | Path],
    overrides: Mapping[str, Mapping],
    html: str | Path,
    table_csv: str | Path,
    table_md: str | Path,
    losses_png: str | Path,
) -> pd.DataFrame:
    """Write the page and its table and figure; every list holds the runs' files run by run, in ``runs`` order.

    ``overrides`` are the experiments' overrides (the first run, the top level, has none). Returns the table.
    """
    n = len(runs)
    if not len(metrics) == len(losses) == len(reports) == n or len(clips) % n or len(clip_images) != len(clips):
        raise ValueError(f"{n} run(s) but {len(metrics)} metrics, {len(losses)} losses, {len(reports)} reports, "
                         f"{len(clips)} clips and {len(clip_images)} clip images")  # fmt: skip
    tables = {run: pd.read_csv(path) for run, path in zip(runs, losses)}
    table = distance_table(
        {run: json.loads(Path(p).read_text()) for run, p in zip(runs, metrics)},
        {run: len(t) for run, t in tables.items()},
    )
    atomic.write_text(table_csv, table.to_csv(index=False))
    atomic.write_text(table_md, markdown(table))
    plot_loss_overlay(tables, losses_png)
    base = Path(html).parent

    def rel(p) -> str:
        return Path(os.path.relpath(Path(p).resolve(), base.resolve())).as_posix()

    k = len(clips) // n
    cards = [
        {
            "name": run,
            "report": rel(report),
            "overrides": yaml.safe_dump(dict(overrides.get(run) or {}), sort_keys=False).strip()
            if i
            else "the top-level config",
            "clips": [
                {"name": Path(c).stem, "link": rel(c), "image": rel(im)}
                for c, im in zip(clips[i * k : (i + 1) * k], clip_images[i * k : (i + 1) * k])
            ],  # fmt: skip
        }
        for i, (run, report) in enumerate(zip(runs, reports))
    ]
    rows = [{"set": r.set, "kind": r.kind, "cells": cells(r)} for r in table.itertuples()]
    atomic.write_text(html, render(heads=HEADS, rows=rows, runs=cards, losses_image=rel(losses_png)))
    return table


def render(**values) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE.parent), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    return env.get_template(TEMPLATE.name).render(**values)
