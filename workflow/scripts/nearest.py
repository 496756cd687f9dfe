"""Rule `nearest`: the copy check, each clip's and long piece's nearest training segment (results/eval/nearest.csv)."""

from pathlib import Path

import pandas as pd

from audiowgan.core import runlog
from audiowgan.look import nearest
from audiowgan.nn import devices

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
p = snakemake.params
if p.perceptual:  # TensorFlow runs here only for the embeddings: don't import it (seconds) otherwise
    devices.configure_threads(snakemake.threads)
    devices.log_devices(log, threads=snakemake.threads)
pieces = pd.read_csv(snakemake.input.longform)
pieces["path"] = [str(Path(snakemake.input.longform).parent / name) for name in pieces["piece"]]

nearest.copy_check(
    dataset_dir=Path(snakemake.input.meta).parent,
    segments_root=Path(snakemake.input.segments[0]).parent,
    clips=list(snakemake.input.clips),
    pieces=pieces,
    out_csv=snakemake.output.nearest,
    out_dir=Path(snakemake.output.segments[0]).parent,
    quantile=p.quantile,
    perceptual=p.perceptual,
    log=log,
)
