"""The self-contained results/report.html: metrics, figures, a player per clip and per long piece.

Rendered from ``templates/report.html.j2`` with Jinja2 and autoescaping: values from files
(clip names, reasons) can never inject markup. The page uses only relative links into
results/ and inline CSS, so it keeps working when results/ is copied elsewhere. No TensorFlow,
no JavaScript.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from audiowgan.core import atomic

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html.j2"

FD_ROWS = (
    (
        "generated",
        "Generated clips (as heard)",
        "mels recomputed from the clip audio: generator and Griffin-Lim, what you hear",
    ),
    ("generator_output", "Generator output", "the generator's own mels, before inversion to audio"),
    ("real_vs_real", "Baseline: real vs real", "the other half of the held-out segments: what a perfect model scores"),
    ("noise_vs_real", "Baseline: noise vs real", "uniform noise on [-1, 1]: what a model that learnt nothing scores"),
    ("white_noise_vs_real", "Baseline: white noise", "white-noise audio at the clips' loudness, through the same mel"),
    ("pink_noise_vs_real", "Baseline: pink noise", "pink (1/f) noise audio: right spectral tilt, no music"),
    (
        "inversion_ceiling",
        "Ceiling: real mels, inverted",
        "held-out segments through their own mels and the same inversion as the clips: the best any generator "
        "can score with this inversion; above real vs real: the inversion's share of the gap, below the clips: "
        "the generator's",
    ),
)
PERCEPTUAL_ROWS = (
    ("generated", "Generated clips (as heard)", "the clip audio"),
    ("real_vs_real", "Baseline: real vs real", "the other half of the held-out segments"),
    ("white_noise_vs_real", "Baseline: white noise", "white-noise audio"),
    ("pink_noise_vs_real", "Baseline: pink noise", "pink (1/f) noise audio"),
    ("inversion_ceiling", "Ceiling: real mels, inverted", "held-out segments through mel and the clips' inversion"),
)


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _group(title: str, values: dict, rows) -> dict:
    """A table group: one row per (key, label, what) with its value and a bar scaled to the group's largest."""
    scale = max((v for v in values.values() if v is not None and v > 0), default=None)
    out = []
    for key, label, what in rows:
        value = values.get(key)
        bar = 100 * max(value, 0) / scale if value is not None and scale else None
        out.append({"label": label, "value": _fmt(value), "bar": bar, "what": what})
    return {"title": title, "rows": out}


def metric_groups(metrics: dict) -> list[dict]:
    """The metrics table, group by group, as plain values for the template."""
    groups = [
        _group(
            "Frechet distance to held-out real music, mel frames (lower is closer)",
            metrics.get("frechet_distance", {}),
            FD_ROWS,
        )
    ]
    for embedding in _embeddings(metrics.get("perceptual")):
        name = embedding.get("embedding", {}).get("name", "an embedding")
        network = embedding.get("embedding", {}).get("network", "pretrained network")
        groups.append(
            _group(
                f"Frechet distance on {name} embeddings ({network}; lower is closer)",
                embedding.get("frechet", {}),
                PERCEPTUAL_ROWS,
            )
        )
        groups.append(
            _group(
                f"Kernel distance (unbiased MMD, KID-style) on {name} embeddings; about 0 for the same music",
                embedding.get("kernel", {}),
                PERCEPTUAL_ROWS,
            )
        )
    spread = metrics.get("clip_spread")
    if spread:
        groups.append(_spread_group(spread))
    rt = metrics.get("round_trip", {})
    value = _fmt(rt.get("mean"))
    if rt.get("std") is not None:
        value += f" \u00b1 {_fmt(rt['std'], 2)}"
    what = (
        f"real held-out segments through mel and back ({rt.get('method')} Griffin-Lim, {rt.get('n_iter')} "
        f"iterations, {rt.get('n_segments', 0)} segment(s)), as spectral convergence ||S - S\u0302|| / ||S||: "
        "the error inversion alone puts under every clip"
    )
    groups.append(
        {
            "title": "Inversion (mel to audio)",
            "rows": [{"label": "Griffin-Lim round-trip error", "value": value, "bar": None, "what": what}],
        }
    )
    return groups


SPREAD_ROWS = (
    ("between", "Clips differ", "how much the clips' mean spectra differ from each other"),
    ("within", "Each clip moves", "how much each band moves over a clip"),
)


def _spread_group(spread: dict) -> dict:
    """metrics.json's ``clip_spread`` as generated over real (no bars: 1 is the target, not 0)."""
    rows = []
    for key, label, what in SPREAD_ROWS:
        generated, real, ratio = (
            spread["generated"][key],
            spread["real_vs_real"][key],
            spread["generated_over_real"][key],
        )
        rows.append({"label": label, "value": _fmt(ratio, 3) + ("x" if ratio is not None else ""), "bar": None,
                     "what": f"{what}: {_fmt(generated)} generated, {_fmt(real)} real"})  # fmt: skip
    return {
        "title": "Clip spread, generated over real vs real (1 is as real music; mel FD cannot see it)",
        "rows": rows,
    }


def _embeddings(perceptual: dict | None) -> list[dict]:
    """metrics.json's ``perceptual``, one dict per embedder (``{name: {...}}``; an older file holds one)."""
    if not perceptual:
        return []
    return [perceptual] if "frechet" in perceptual else list(perceptual.values())


def _copies(links: list[str] | None) -> list[dict]:
    return [{"link": link, "label": Path(link).suffix.lstrip(".").upper()} for link in links or []]


def nearest_by_clip(table: pd.DataFrame | None, links: dict[str, str] | None = None) -> dict[str, dict]:
    """``{clip or piece name: its copy check}`` from nearest.csv, in its primary space: the nearest training
    segment (a piece's closest part), distance, ratio, the flag, the flagged parts and the other spaces' ratios."""
    if table is None or not len(table):
        return {}
    out = {}
    for clip, rows in table.groupby("clip", sort=False):
        primary = rows[rows["primary"].astype(bool)]
        best = primary.loc[primary["distance"].idxmin()]
        others = rows[~rows["primary"].astype(bool)]
        out[clip] = {
            "link": (links or {}).get(clip),
            "space": best["space"],
            "where": f"{best['track']}/{best['segment']}",
            "part": int(best["part"]),
            "start": float(best["start_seconds"]),
            "distance": _fmt(float(best["distance"])),
            "ratio": _fmt(float(best["ratio"]), 3),
            "flagged": bool(primary["copy"].astype(bool).any()),  # not "copy": Jinja would find dict.copy
            "flagged_parts": int(primary["copy"].astype(bool).sum()),
            "parts": len(primary),
            "others": [f"{o['space']} ratio {_fmt(float(o['ratio']), 3)}{' (copy)' if o['copy'] else ''}"
                       for o in others.sort_values("distance").drop_duplicates("space").to_dict("records")],
        }  # fmt: skip
    return out


def copy_summary(table: pd.DataFrame | None, clip_names: list[str], piece_names: list[str]) -> str | None:
    """The summary line: how many clips (and long-piece segments) the copy check flags, in which space."""
    if table is None or not len(table):
        return None
    primary = table[table["primary"].astype(bool)]
    flagged = primary.groupby("clip")["copy"].any()
    n_clips = sum(bool(flagged.get(c, False)) for c in clip_names)
    line = f"{n_clips} of {len(clip_names)} clips flagged as copies"
    parts = primary[primary["clip"].isin(piece_names)]
    if len(parts):
        line += f", {int(parts['copy'].astype(bool).sum())} of {len(parts)} long-piece segments"
    reference = primary["reference"].iloc[0]
    return (
        f"{line}: closer to a training segment than the held-out segments come (reference distance "
        f"{_fmt(float(reference))}, {primary['space'].iloc[0]} space; results/eval/nearest.csv has every space)."
    )


def render_html(
    *,
    metrics: dict,
    manifest: pd.DataFrame,
    clip_links: list[str],
    clip_images: list[str],
    losses_image: str,
    grid_image: str,
    clip_copies: list[list[str]] | None = None,
    pieces: pd.DataFrame | None = None,
    piece_links: list[str] | None = None,
    piece_copies: list[list[str]] | None = None,
    nearest: pd.DataFrame | None = None,
    nearest_links: dict[str, str] | None = None,
    title: str = "audio-wgan results",
    comparison_link: str | None = None,
) -> str:
    """The report page as a string; every link is used verbatim (make them relative).

    ``clip_copies``/``piece_copies`` are the compressed copies of each clip/piece (download links);
    ``pieces`` is the long-form manifest, with ``piece_links`` in its row order; ``nearest`` is nearest.csv
    and ``nearest_links`` the nearest training segment's WAV of each clip and piece, by name.
    """
    import jinja2

    if not len(clip_links) == len(clip_images) == len(manifest):
        raise ValueError(f"{len(clip_links)} clip(s), {len(clip_images)} image(s), {len(manifest)} manifest row(s)")
    pieces = pieces if pieces is not None else pd.DataFrame()
    if len(piece_links or []) != len(pieces):
        raise ValueError(f"{len(piece_links or [])} piece link(s) for {len(pieces)} manifest row(s)")
    facts = [
        (label, str(manifest[col].iloc[0]))
        for col, label in (
            ("model_steps", "generator steps"),
            ("weights_sha256", "weights"),
            ("config_sha256", "config"),
        )
        if col in manifest.columns and len(manifest)
    ]
    clip_copies = clip_copies or [[] for _ in clip_links]
    near = nearest_by_clip(nearest, nearest_links)
    clips = [
        {
            "name": str(row.get("clip", Path(link).name)),
            "link": link,
            "image": image,
            "copies": _copies(copies),
            "nearest": near.get(str(row.get("clip", Path(link).name))),
            "facts": f"seed {row.get('seed')} \u00b7 {float(row.get('duration', 0)):.2f} s \u00b7 "
            f"RMS {row.get('rms_dbfs')} dBFS \u00b7 peak {row.get('peak_dbfs')} dBFS",
        }
        for link, image, copies, row in zip(clip_links, clip_images, clip_copies, manifest.to_dict("records"))
    ]
    piece_copies = piece_copies or [[] for _ in range(len(pieces))]
    long_pieces = [
        {
            "name": str(row.get("piece")),
            "link": link,
            "copies": _copies(copies),
            "nearest": near.get(str(row.get("piece"))),
            "facts": f"seed {row.get('seed')} \u00b7 {float(row.get('duration', 0)):.1f} s from "
            f"{row.get('segments')} segments \u00b7 crossfade {row.get('overlap_seconds')} s \u00b7 "
            f"RMS {row.get('rms_dbfs')} dBFS",
        }
        for link, copies, row in zip(piece_links or [], piece_copies, pieces.to_dict("records"))
    ]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE.name).render(
        title=title,
        note=metrics.get("reason"),
        model_facts=facts,
        metric_groups=metric_groups(metrics),
        split=metrics.get("split", {}),
        losses_image=losses_image,
        grid_image=grid_image,
        clips=clips,
        pieces=long_pieces,
        comparison_link=comparison_link,
        copy_summary=copy_summary(nearest, [c["name"] for c in clips], [p["name"] for p in long_pieces]),
    )


def write_report(
    *,
    out: str | Path,
    metrics_json: str | Path,
    manifest_csv: str | Path,
    clips: list[str | Path],
    clip_images: list[str | Path],
    losses_image: str | Path,
    grid_image: str | Path,
    copies: list[str | Path] = (),
    longform_csv: str | Path | None = None,
    pieces: list[str | Path] = (),
    comparison: str | Path | None = None,
    title: str = "audio-wgan results",
    nearest_csv: str | Path | None = None,
    nearest_segments: list[str | Path] = (),
) -> None:
    """Write the report page with every link relative to ``out``'s folder.

    ``copies`` are compressed copies of clips and pieces (matched to them by file stem); ``comparison``, the
    experiments' comparison page to link to (none without experiments); ``nearest_segments`` the copy
    check's nearest training segments, named as their clip or piece.
    """
    base = Path(out).parent

    def rel(p: str | Path) -> str:
        return Path(os.path.relpath(Path(p).resolve(), base.resolve())).as_posix()

    def copies_of(path: str | Path) -> list[str]:
        p = Path(path)
        return [rel(c) for c in copies if Path(c).parent == p.parent and Path(c).stem == p.stem]

    manifest = pd.read_csv(manifest_csv)
    if len(clip_images) != len(clips):
        raise ValueError(f"{len(clip_images)} clip image(s) for {len(clips)} clip(s)")
    by_name = {Path(c).name: (c, image) for c, image in zip(clips, clip_images)}
    missing = [name for name in manifest["clip"] if name not in by_name]
    if missing or len(manifest) != len(clips):
        raise ValueError(f"manifest and clips differ: {len(manifest)} row(s), {len(clips)} clip(s), missing {missing}")
    long_manifest = pd.read_csv(longform_csv) if longform_csv and pieces else pd.DataFrame({"piece": []})
    piece_by_name = {Path(p).name: p for p in pieces}
    page = render_html(
        metrics=json.loads(Path(metrics_json).read_text()),
        manifest=manifest,
        clip_links=[rel(by_name[name][0]) for name in manifest["clip"]],
        clip_images=[rel(by_name[name][1]) for name in manifest["clip"]],
        clip_copies=[copies_of(by_name[name][0]) for name in manifest["clip"]],
        losses_image=rel(losses_image),
        grid_image=rel(grid_image),
        pieces=long_manifest,
        piece_links=[rel(piece_by_name[name]) for name in long_manifest["piece"]],
        piece_copies=[copies_of(piece_by_name[name]) for name in long_manifest["piece"]],
        comparison_link=rel(comparison) if comparison else None,
        title=title,
        nearest=pd.read_csv(nearest_csv, dtype={"track": str, "segment": str}) if nearest_csv else None,
        nearest_links={Path(p).name: rel(p) for p in nearest_segments},
    )
    atomic.write_text(out, page)
