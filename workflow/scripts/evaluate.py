"""Rule `evaluate`: Frechet distances against held-out segments, with baselines, and the round-trip error."""

from pathlib import Path

from audiowgan.core import runlog
from audiowgan.look import evaluate
from audiowgan.nn import devices

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
p = snakemake.params
if p.perceptual:  # TensorFlow runs here only for the pretrained embeddings: don't import it (seconds) otherwise
    devices.configure_threads(snakemake.threads)  # before any TensorFlow operation: its thread pools are fixed then
    devices.log_devices(log, threads=snakemake.threads)

evaluate.evaluate(
    dataset_dir=Path(snakemake.input.meta).parent,
    segments_root=Path(snakemake.input.segments[0]).parent,
    clips=list(snakemake.input.clips),
    generator_mels=snakemake.input.generator_mels,
    out=snakemake.output.metrics,
    seed=p.seed,
    round_trip_segments=p.round_trip_segments,
    griffin_lim_iters=p.griffin_lim_iters,
    inversion_method=p.inversion,
    target_dbfs=p.target_dbfs,
    perceptual=p.perceptual,
    log=log,
)
