"""Rule `longform`: long pieces, a smooth latent walk rendered segment by segment and crossfaded."""

from pathlib import Path

from audiowgan.core import runlog
from audiowgan.core.settings import LongformSpec
from audiowgan.nn import devices
from audiowgan.render import longform

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
devices.configure_threads(snakemake.threads)  # before any TensorFlow operation: its thread pools are fixed then
devices.log_devices(log, threads=snakemake.threads)
p = snakemake.params

longform.longform(
    model_dir=Path(snakemake.input.model).parent,
    dataset_meta=snakemake.input.meta,
    pieces=list(snakemake.output.pieces),
    manifest=snakemake.output.manifest,
    spec=LongformSpec.from_mapping(p.longform),
    griffin_lim_iters=p.griffin_lim_iters,
    target_dbfs=p.target_dbfs,
    inversion_method=p.inversion,
    weights=Path(snakemake.input.generator).name,
    temperature=float(p.temperature),  # 1 and 1.0 in the config: one manifest value
    formats=p.formats,
    log=log,
)
