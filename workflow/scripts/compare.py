"""Rule `compare`: the experiments' comparison page, with its table (CSV, Markdown) and overlaid loss curves."""

from audiowgan.core import runlog
from audiowgan.look import compare

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

table = compare.write_comparison(
    runs=snakemake.params.runs,
    metrics=list(snakemake.input.metrics),
    losses=list(snakemake.input.losses),
    reports=list(snakemake.input.reports),
    clips=list(snakemake.input.clips),
    clip_images=list(snakemake.input.clip_images),
    overrides=snakemake.params.overrides,
    html=snakemake.output.html,
    table_csv=snakemake.output.table,
    table_md=snakemake.output.markdown,
    losses_png=snakemake.output.losses,
)
log.info("compared %d run(s):\n%s", len(snakemake.params.runs), compare.markdown(table))
