"""Rule `download`: fetch one track with yt-dlp, extract its audio as MP3, record the outcome."""

from audiowgan.core import rerun, runlog
from audiowgan.ingest import download

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
# Not params: changing how often a download is retried must not fetch finished tracks again.
retry = rerun.run_values(snakemake.config, "download")

log.info("downloading %s", snakemake.params.url)
status = download.download_track(
    snakemake.params.url,
    snakemake.output.audio,
    snakemake.output.status,
    retries=retry["retries"],
    backoff_seconds=retry["backoff_seconds"],
)
log.info("status: %s %s (%d attempt(s))", status["status"], status["reason"], status["attempts"])
