"""Rule `mel`: one scaled mel spectrogram (.npy) per segment of one track."""

from audiowgan.core import runlog
from audiowgan.core.settings import MelSpec
from audiowgan.dsp import mel

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

meta = mel.mel_directory(
    snakemake.input.segments,
    snakemake.output.mels,
    spec=MelSpec.from_mapping(snakemake.params),
    threads=snakemake.threads,
)
log.info("%d mel spectrogram(s) of %d x %d", meta["n_segments"], meta["n_mels"], meta["frames"])
