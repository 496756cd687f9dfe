"""The self-contained results/report.html: metrics, figures and a player per clip. No TensorFlow.

The page uses only relative links into results/ and inline CSS, so it keeps
working when results/ is copied elsewhere.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pandas as pd

from . import atomic

CSS = """
:root { --fg: #1d2330; --muted: #5d6677; --line: #e2e6ee; --bg: #f6f7fb; --card: #fff; --accent: #5b3cc4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 12px; }
.sub { color: var(--muted); margin: 0 0 8px; }
.note { background: #fff7e0; border: 1px solid #f0d98a; border-radius: 8px; padding: 10px 14px; }
table { border-collapse: collapse; width: 100%; background: var(--card); border-radius: 10px; overflow: hidden;
        box-shadow: 0 1px 3px rgba(20, 30, 60, .08); }
th, td { text-align: left; padding: 9px 14px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f7; font-weight: 600; font-size: 13px; text-transform: uppercase; letter-spacing: .03em;
     color: var(--muted); }
tr:last-child td { border-bottom: none; }
tr.group td { background: #f8f9fc; font-weight: 600; font-size: 14px; color: var(--accent); padding-top: 12px; }
th:nth-child(1) { width: 30%; } th:nth-child(2) { width: 17%; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; font-weight: 600; }
td.what { color: var(--muted); font-size: 14px; }
.bar { height: 6px; background: var(--line); border-radius: 3px; margin-top: 6px; min-width: 120px; }
.bar span { display: block; height: 6px; border-radius: 3px; background: var(--accent); }
figure { margin: 0; background: var(--card); border-radius: 10px; padding: 12px;
         box-shadow: 0 1px 3px rgba(20, 30, 60, .08); }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 14px; margin-top: 6px; }
.clips { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 16px; }
.card { background: var(--card); border-radius: 10px; padding: 14px; box-shadow: 0 1px 3px rgba(20, 30, 60, .08); }
.card h3 { font-size: 15px; margin: 0 0 2px; }
.card .facts { color: var(--muted); font-size: 13px; margin: 0 0 8px; }
.card img { width: 100%; height: auto; display: block; border-radius: 6px; margin-bottom: 8px; }
.card audio { width: 100%; }
footer { color: var(--muted); font-size: 13px; margin-top: 40px; }
code { font-size: 13px; background: #eef0f7; padding: 1px 5px; border-radius: 4px; }
"""

# For headless checks: <body> gets data-images-ok once every image has decoded, and data-audio-ready counts
# the players whose file has loaded its metadata (so it exists and the browser can read it).
CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (im) { return im.complete && im.naturalWidth > 0; });
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-ok", ok ? "true" : "false");
  var players = Array.prototype.slice.call(document.querySelectorAll("audio"));
  function count() {
    var ready = players.filter(function (a) { return a.readyState >= 1 && a.duration > 0; }).length;
    document.body.setAttribute("data-audio-ready", String(ready));
  }
  players.forEach(function (a) { a.addEventListener("loadedmetadata", count); });
  count();
});
"""

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
)
PERCEPTUAL_ROWS = (
    ("generated", "Generated clips (as heard)", "the clip audio"),
    ("real_vs_real", "Baseline: real vs real", "the other half of the held-out segments"),
    ("white_noise_vs_real", "Baseline: white noise", "white-noise audio"),
    ("pink_noise_vs_real", "Baseline: pink noise", "pink (1/f) noise audio"),
)


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _group(title: str, values: dict, rows) -> list[str]:
    """A table group: one row per (key, label, what) with its value and a bar scaled to the group's largest."""
    scale = max((v for v in values.values() if v is not None and v > 0), default=None)
    out = [f'<tr class="group"><td colspan="3">{html.escape(title)}</td></tr>']
    for key, label, what in rows:
        value = values.get(key)
        bar = ""
        if value is not None and scale:
            bar = f'<div class="bar"><span style="width:{100 * max(value, 0) / scale:.1f}%"></span></div>'
        out.append(f'<tr><td>{html.escape(label)}</td><td class="num">{_fmt(value)}{bar}</td>'
                   f'<td class="what">{html.escape(what)}</td></tr>')  # fmt: skip
    return out


def _metrics_rows(metrics: dict) -> str:
    out = _group("Frechet distance to held-out real music, mel frames (lower is closer)",
                 metrics.get("frechet_distance", {}), FD_ROWS)  # fmt: skip
    perceptual = metrics.get("perceptual") or {}
    if perceptual:
        name = perceptual.get("embedding", {}).get("name", "CREPE")
        out += _group(f"Frechet distance on {name} embeddings (pretrained pitch network; lower is closer)",
                      perceptual.get("frechet", {}), PERCEPTUAL_ROWS)  # fmt: skip
        out += _group(f"Kernel distance (unbiased MMD, KID-style) on {name} embeddings; about 0 for the same music",
                      perceptual.get("kernel", {}), PERCEPTUAL_ROWS)  # fmt: skip
    rt = metrics.get("round_trip", {})
    value = _fmt(rt.get("mean"))
    if rt.get("std") is not None:
        value += f" &plusmn; {_fmt(rt['std'], 2)}"
    what = (f"real held-out segments through mel and back ({html.escape(str(rt.get('method')))} Griffin-Lim, "
            f"{rt.get('n_iter')} iterations, {rt.get('n_segments', 0)} segment(s)), as spectral convergence "
            "||S - S&#770;|| / ||S||: the error inversion alone puts under every clip")  # fmt: skip
    out.append('<tr class="group"><td colspan="3">Inversion (mel to audio)</td></tr>')
    out.append(
        f'<tr><td>Griffin-Lim round-trip error</td><td class="num">{value}</td><td class="what">{what}</td></tr>'
    )
    return "\n".join(out)


def render_html(
    *,
    metrics: dict,
    manifest: pd.DataFrame,
    clip_links: list[str],
    clip_images: list[str],
    losses_image: str,
    grid_image: str,
    title: str = "audio-wgan results",
) -> str:
    """The report page as a string; every link is used verbatim (make them relative)."""
    if not len(clip_links) == len(clip_images) == len(manifest):
        raise ValueError(f"{len(clip_links)} clip(s), {len(clip_images)} image(s), {len(manifest)} manifest row(s)")
    esc = html.escape
    split = metrics.get("split", {})
    note = ""
    if metrics.get("reason"):
        note = f'<p class="note">{esc(str(metrics["reason"]))}</p>'
    model = ", ".join(
        f"{label} <code>{esc(str(manifest[col].iloc[0]))}</code>"
        for col, label in (
            ("model_steps", "generator steps"),
            ("weights_sha256", "weights"),
            ("config_sha256", "config"),
        )
        if col in manifest.columns and len(manifest)
    )
    cards = []
    for link, image, row in zip(clip_links, clip_images, manifest.to_dict("records")):
        facts = (f"seed {row.get('seed')} &middot; {float(row.get('duration', 0)):.2f} s &middot; "
                 f"RMS {row.get('rms_dbfs')} dBFS &middot; peak {row.get('peak_dbfs')} dBFS")  # fmt: skip
        name = esc(str(row.get("clip", Path(link).name)))
        cards.append(
            f'<article class="card"><h3>{name}</h3><p class="facts">{facts}</p>'
            f'<img src="{esc(image)}" alt="mel spectrogram of {name}" loading="eager">'
            f'<audio controls preload="metadata" src="{esc(link)}"></audio></article>'
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
<script>{CHECK_SCRIPT}</script>
</head>
<body>
<main>
<h1>{esc(title)}</h1>
<p class="sub">{len(manifest)} generated clip(s); model: {model or "n/a"}.</p>

<h2>Metrics</h2>
{note}
<table>
<thead><tr><th>metric</th><th>value</th><th>what it measures</th></tr></thead>
<tbody>
{_metrics_rows(metrics)}
</tbody>
</table>
<p class="sub">Frechet distances between Gaussian fits of mel frames, each against the same reference
(half A of the {split.get("heldout_segments", "?")} held-out segments, {split.get("reference_a", "?")} segment(s));
every compared set has {split.get("items_per_set", "?")} item(s), so the values share the same small-sample bias.
Lower is closer to real music; generated clips between the two baselines learnt something.</p>

<h2>Training</h2>
<figure><img src="{esc(losses_image)}" alt="training losses">
<figcaption>Critic and generator losses, the critic's Wasserstein estimate and the gradient penalty per generator step
(faint: raw; solid: moving average).</figcaption></figure>

<h2>Spectrograms</h2>
<figure><img src="{esc(grid_image)}" alt="real and generated mel spectrograms">
<figcaption>Held-out real segments next to generated clips, on the same [-1, 1] scale.</figcaption></figure>

<h2>Clips</h2>
<div class="clips">
{chr(10).join(cards)}
</div>
<footer>Written by the <code>report</code> rule of audio-wgan; links are relative to this file's folder.</footer>
</main>
</body>
</html>
"""


def write_report(
    *,
    out: str | Path,
    metrics_json: str | Path,
    manifest_csv: str | Path,
    clips: list[str | Path],
    clip_images: list[str | Path],
    losses_image: str | Path,
    grid_image: str | Path,
) -> None:
    """Write the report page with every link relative to ``out``'s folder."""
    base = Path(out).parent

    def rel(p: str | Path) -> str:
        return Path(os.path.relpath(Path(p).resolve(), base.resolve())).as_posix()

    manifest = pd.read_csv(manifest_csv)
    if len(clip_images) != len(clips):
        raise ValueError(f"{len(clip_images)} clip image(s) for {len(clips)} clip(s)")
    by_name = {Path(c).name: (c, image) for c, image in zip(clips, clip_images)}
    missing = [name for name in manifest["clip"] if name not in by_name]
    if missing or len(manifest) != len(clips):
        raise ValueError(f"manifest and clips differ: {len(manifest)} row(s), {len(clips)} clip(s), missing {missing}")
    page = render_html(
        metrics=json.loads(Path(metrics_json).read_text()),
        manifest=manifest,
        clip_links=[rel(by_name[name][0]) for name in manifest["clip"]],
        clip_images=[rel(by_name[name][1]) for name in manifest["clip"]],
        losses_image=rel(losses_image),
        grid_image=rel(grid_image),
    )
    atomic.write_text(out, page)
