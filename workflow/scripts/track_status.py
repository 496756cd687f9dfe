"""Rule `track_status`: every track's outcome in results/tracks.tsv; applies `on_error`."""

from pathlib import Path

from audiowgan.core import runlog
from audiowgan.ingest import track_status

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

table = track_status.track_status(
    snakemake.input.resolved, {Path(d).name: d for d in snakemake.input.mels}, snakemake.output.tracks
)
for row in table[table["status"] != "ok"].itertuples():
    log.warning("track %s (%s) skipped: %s: %s", row.track, row.url, row.status, row.reason)
log.info("%d of %d track(s) usable", (table["status"] == "ok").sum(), len(table))
track_status.enforce(table, on_error=snakemake.params.on_error, tracks_file=snakemake.output.tracks)
