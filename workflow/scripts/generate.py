"""Rule `generate`: render clips from the trained generator (Griffin-Lim), loudness-normalised."""

from pathlib import Path

from audiowgan.core import runlog
from audiowgan.nn import devices
from audiowgan.render import generate

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
devices.configure_threads(snakemake.threads)  # before any TensorFlow operation: its thread pools are fixed then
devices.log_devices(log, threads=snakemake.threads)
p = snakemake.params

generate.generate(
    model_dir=Path(snakemake.input.model).parent,
    weights=Path(snakemake.input.generator).name,
    temperature=float(p.temperature),  # 1 and 1.0 in the config: one manifest value
    dataset_meta=snakemake.input.meta,
    clips=snakemake.output.clips,
    manifest=snakemake.output.manifest,
    seed=p.seed,
    griffin_lim_iters=p.griffin_lim_iters,
    target_dbfs=p.target_dbfs,
    inversion_method=p.inversion,
    formats=p.formats,
    mels_out=snakemake.output.mels,
    threads=snakemake.threads,  # the Griffin-Lim tasks and the MP3/OGG encoders
    log=log,
)
