"""Rule `plots`: training curves, real-vs-generated spectrogram grid, one spectrogram per clip."""

from pathlib import Path

from audiowgan.core import runlog
from audiowgan.look import plots

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

plots.make_plots(
    losses_csv=snakemake.input.losses,
    dataset_dir=Path(snakemake.input.meta).parent,
    clips=list(snakemake.input.clips),
    generator_mels=snakemake.input.generator_mels,
    losses_png=snakemake.output.losses,
    grid_png=snakemake.output.spectrograms,
    clip_pngs=list(snakemake.output.clips),
)
log.info(
    "wrote %s, %s and %d clip image(s)",
    snakemake.output.losses,
    snakemake.output.spectrograms,
    len(snakemake.output.clips),
)
