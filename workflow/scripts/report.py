"""Rule `report`: results/report.html, a self-contained page with metrics, plots and a player per clip."""

from audiowgan.core import runlog
from audiowgan.look import report

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

report.write_report(
    out=snakemake.output.html,
    metrics_json=snakemake.input.metrics,
    manifest_csv=snakemake.input.manifest,
    clips=list(snakemake.input.clips),
    clip_images=list(snakemake.input.clip_images),
    losses_image=snakemake.input.losses,
    grid_image=snakemake.input.spectrograms,
    copies=list(snakemake.input.copies),
    longform_csv=snakemake.input.longform,
    nearest_csv=snakemake.input.nearest,
    nearest_segments=list(snakemake.input.nearest_segments),
    pieces=list(snakemake.input.pieces),
    comparison=snakemake.params.comparison,
    title=snakemake.params.title,
)
log.info("wrote %s", snakemake.output.html)
