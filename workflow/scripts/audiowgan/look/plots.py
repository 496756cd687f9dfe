"""Figures (matplotlib, Agg): training curves, real-vs-generated spectrograms, one image per clip.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (no pyplot
state, no GUI backend). No TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from audiowgan.core import atomic
from audiowgan.core.settings import AudioSpec
from audiowgan.data import pack as dataset
from audiowgan.dsp import mel as features

CMAP = "magma"
PLOTTED_LOSSES = (  # the panels of losses.png, in this order
    "d_loss",
    "g_loss",
    "wasserstein",
    "gradient_penalty",
)


def _smooth(values: np.ndarray) -> np.ndarray:
    """Centered moving average over about 2% of the steps (identity for short runs)."""
    window = max(1, len(values) // 50)
    if window == 1:
        return values
    return pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()


def plot_losses(losses: pd.DataFrame, out: str | Path) -> None:
    """Three panels over generator steps: critic and generator loss, Wasserstein estimate, gradient penalty.

    ``losses`` has the columns of model/losses.csv (step, d_loss, g_loss,
    wasserstein, gradient_penalty); raw values are drawn faintly under a moving
    average. An empty table gives a figure that says so.
    """
    missing = [c for c in ("step", *PLOTTED_LOSSES) if c not in losses.columns]
    if missing:
        raise ValueError(f"losses table lacks column(s) {missing}")
    fig = Figure(figsize=(9, 7.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    panels = [
        (("d_loss", "critic loss", "tab:red"), ("g_loss", "generator loss", "tab:blue")),
        (("wasserstein", "Wasserstein estimate E[D(real)] - E[D(fake)]", "tab:green"),),
        (("gradient_penalty", "gradient penalty", "tab:purple"),),
    ]
    step = losses["step"].to_numpy()
    for ax, lines in zip(axes, panels):
        for column, label, color in lines:
            y = losses[column].to_numpy(dtype=float)
            if len(y) > 50:
                ax.plot(step, y, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(step, _smooth(y), color=color, linewidth=1.6, label=label)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9, framealpha=0.8)
    if len(losses) == 0:
        axes[0].text(0.5, 0.5, "no training steps recorded", ha="center", va="center", transform=axes[0].transAxes)
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel("estimate")
    axes[2].set_ylabel("penalty")
    axes[2].set_xlabel("generator step")
    fig.suptitle("WGAN-GP training", fontsize=13)
    with atomic.replacing(out, keep_suffix=True) as tmp:  # matplotlib takes the format from the suffix
        fig.savefig(tmp, dpi=110)


def plot_loss_overlay(losses: dict[str, pd.DataFrame], out: str | Path) -> None:
    """One figure, one colour per run: critic loss, generator loss and Wasserstein estimate over generator steps.

    ``losses`` maps a run's name to its model/losses.csv table; the moving averages are drawn (raw values of
    several runs on one axis hide each other).
    """
    fig = Figure(figsize=(9, 7.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    panels = (("d_loss", "critic loss"), ("g_loss", "generator loss"), ("wasserstein", "Wasserstein estimate"))
    for (column, title), ax in zip(panels, axes):
        for i, (name, table) in enumerate(losses.items()):
            if len(table):
                y = _smooth(table[column].to_numpy(dtype=float))
                ax.plot(table["step"].to_numpy(), y, color=f"C{i % 10}", linewidth=1.6, label=name)
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("generator step")
    fig.suptitle("Training of every run (moving averages)", fontsize=13)
    with atomic.replacing(out, keep_suffix=True) as tmp:  # matplotlib takes the format from the suffix
        fig.savefig(tmp, dpi=110)


def _show_mel(ax, mel: np.ndarray, *, seconds: float):
    return ax.imshow(
        mel,
        origin="lower",
        aspect="auto",
        cmap=CMAP,
        vmin=-1,
        vmax=1,
        extent=(0, seconds, 0, mel.shape[0]),
        interpolation="nearest",
    )


def plot_spectrogram_grid(rows: dict[str, np.ndarray], out: str | Path, *, seconds: float) -> None:
    """A grid of mels: one row per labelled set, e.g. real next to generated.

    Parameters
    ----------
    rows : {label: np.ndarray [shape=(n, n_mels, frames)]}, in [-1, 1]
        Sets with no item are skipped; columns = the largest n.
    seconds : duration of one spectrogram, for the time axis
    """
    rows = {label: np.asarray(m) for label, m in rows.items() if len(m)}
    if not rows:
        raise ValueError("plot_spectrogram_grid needs at least one non-empty set of mels")
    n_cols = max(len(m) for m in rows.values())
    fig = Figure(figsize=(2.3 * n_cols + 1.2, 2.0 * len(rows) + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), n_cols, squeeze=False))
    image = None
    for r, (label, mels) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(mels):
                ax.axis("off")
                continue
            image = _show_mel(ax, mels[c], seconds=seconds)
            ax.tick_params(labelsize=7)
            if c == 0:
                ax.set_ylabel(f"{label}\nmel band", fontsize=9)
            else:
                ax.set_yticklabels([])
            if r == len(rows) - 1:
                ax.set_xlabel("s", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="scaled dB (1 = peak)")
    fig.suptitle("Mel spectrograms", fontsize=12)
    with atomic.replacing(out, keep_suffix=True) as tmp:  # matplotlib takes the format from the suffix
        fig.savefig(tmp, dpi=100)


def plot_clip(mel: np.ndarray, out: str | Path, *, seconds: float, title: str = "") -> None:
    """One small spectrogram image (for a clip card in the report)."""
    fig = Figure(figsize=(4.2, 2.0), layout="constrained")
    ax = fig.subplots()
    _show_mel(ax, mel, seconds=seconds)
    ax.set_xlabel("s", fontsize=8)
    ax.set_ylabel("mel band", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    with atomic.replacing(out, keep_suffix=True) as tmp:  # matplotlib takes the format from the suffix
        fig.savefig(tmp, dpi=120)


def make_plots(
    *,
    losses_csv: str | Path,
    dataset_dir: str | Path,
    clips: list[str | Path],
    generator_mels: str | Path | None,
    losses_png: str | Path,
    grid_png: str | Path,
    clip_pngs: list[str | Path],
    max_columns: int = 6,
) -> None:
    """Write losses.png, spectrograms.png (real held-out segments next to generated clips) and one PNG per clip.

    Generated spectrograms are recomputed from the clip audio (what a listener
    hears); the generator's raw output gets its own row when ``generator_mels`` is given.
    """
    if len(clip_pngs) != len(clips):
        raise ValueError(f"{len(clip_pngs)} clip image path(s) for {len(clips)} clip(s)")
    plot_losses(pd.read_csv(losses_csv), losses_png)
    mels, meta = dataset.open_dataset(dataset_dir)
    seconds = AudioSpec.from_meta(meta).segment_seconds
    heard = features.clip_mels(clips, meta)
    for path, mel in zip(clip_pngs, heard):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        plot_clip(mel, path, seconds=seconds)
    real_rows = dataset.split_rows(dataset_dir, "heldout")
    label = "real (held out)"
    if len(real_rows) == 0:
        real_rows, label = dataset.split_rows(dataset_dir, "train"), "real (training)"
    rows = {label: np.asarray(mels[real_rows[:max_columns]]), "generated (clip audio)": heard[:max_columns]}
    if generator_mels is not None:
        rows["generator output"] = np.load(generator_mels)[:max_columns]
    plot_spectrogram_grid(rows, grid_png, seconds=seconds)
