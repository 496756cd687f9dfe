"""Rule `download`: fetch one track with yt-dlp, extract its audio as MP3, record the outcome."""

from audiowgan.core import runlog
from audiowgan.ingest import download

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

log.info("downloading %s", snakemake.params.url)
status = download.download_track(
    snakemake.params.url,
    snakemake.output.audio,
    snakemake.output.status,
    retries=snakemake.params.retries,
    backoff_seconds=snakemake.params.backoff_seconds,
)
log.info("status: %s %s (%d attempt(s))", status["status"], status["reason"], status["attempts"])
