"""Checkpoint `tracks`: resolve tracks.tsv into results/resolved.tsv (one row per track; playlists expanded)."""

from audiowgan.core import runlog
from audiowgan.ingest import tracks

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

table = tracks.resolve(tracks.read_sources(snakemake.input.sources))
usable = int((table["status"] == "ok").sum())
log.info("%d track(s) resolved, %d usable", len(table), usable)
tracks.write_tracks(table, snakemake.output.resolved)
if usable == 0:
    reasons = "; ".join(f"{r.url}: {r.reason}" for r in table.itertuples())
    raise SystemExit(f"no usable track in {snakemake.input.sources}: {reasons}")
