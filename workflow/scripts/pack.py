"""Rule `pack`: stack every track's mel spectrograms into results/dataset/."""

from pathlib import Path

from audiowgan.core import runlog
from audiowgan.data import pack

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

mel_dirs = {Path(d).name: d for d in snakemake.input.mels}
meta = pack.pack(
    mel_dirs,
    Path(snakemake.output.mels).parent,
    holdout_fraction=snakemake.params.holdout_fraction,
    holdout_by=snakemake.params.holdout_by,
)
log.info(
    "packed %d segment(s) of shape %s from %d track(s): %d for training, %d held out",
    meta["n_segments"],
    meta["shape"][1:],
    meta["tracks"],
    meta["n_train"],
    meta["n_heldout"],
)
for track in meta["tracks_without_segments"]:
    log.warning("track %s has no segment (too short or silent)", track)
