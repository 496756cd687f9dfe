"""Rule `download`: fetch one track with yt-dlp, extract its audio as MP3, record the outcome."""

from audiowgan import runlog, sources

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

log.info("downloading %s", snakemake.params.url)
status = sources.download_track(snakemake.params.url, snakemake.output.audio, snakemake.output.status)
log.info("status: %s %s", status["status"], status["reason"])
