"""Rule `download`: fetch one track with yt-dlp and extract its audio as MP3."""

from audiowgan import runlog, sources

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

log.info("downloading %s", snakemake.params.url)
sources.download(snakemake.params.url, snakemake.output.audio)
log.info("wrote %s", snakemake.output.audio)
