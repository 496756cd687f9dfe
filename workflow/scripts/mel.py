"""Rule `mel`: one scaled mel spectrogram (.npy) per segment of one track."""

from audiowgan import features, runlog
from audiowgan.settings import MelSpec

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

meta = features.mel_directory(
    snakemake.input.segments,
    snakemake.output.mels,
    spec=MelSpec.from_mapping(snakemake.params),
    threads=snakemake.threads,
)
log.info("%d mel spectrogram(s) of %d x %d", meta["n_segments"], meta["n_mels"], meta["frames"])
