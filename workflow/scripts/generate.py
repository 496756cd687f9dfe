"""Rule `generate`: render clips from the trained generator (Griffin-Lim), loudness-normalised."""

from pathlib import Path

from audiowgan import generation, runlog

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
p = snakemake.params

generation.generate(
    model_dir=Path(snakemake.input.model).parent,
    weights=Path(snakemake.input.generator).name,
    dataset_meta=snakemake.input.meta,
    clips=snakemake.output.clips,
    manifest=snakemake.output.manifest,
    seed=p.seed,
    griffin_lim_iters=p.griffin_lim_iters,
    target_dbfs=p.target_dbfs,
    inversion_method=p.inversion,
    mels_out=snakemake.output.mels,
    log=log,
)
