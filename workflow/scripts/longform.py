"""Rule `longform`: long pieces, a smooth latent walk rendered segment by segment and crossfaded."""

from pathlib import Path

from audiowgan import generation, runlog
from audiowgan.settings import LongformSpec

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
p = snakemake.params

generation.longform(
    model_dir=Path(snakemake.input.model).parent,
    dataset_meta=snakemake.input.meta,
    pieces=list(snakemake.output.pieces),
    manifest=snakemake.output.manifest,
    spec=LongformSpec.from_mapping(p.longform),
    griffin_lim_iters=p.griffin_lim_iters,
    target_dbfs=p.target_dbfs,
    inversion_method=p.inversion,
    weights=Path(snakemake.input.generator).name,
    formats=p.formats,
    log=log,
)
