"""Checkpoint `tracks`: resolve sources.tsv into results/resolved.tsv (one row per track; playlists expanded)."""

from audiowgan import runlog, sources

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

table = sources.resolve(sources.read_sources(snakemake.input.sources))
usable = int((table["status"] == "ok").sum())
log.info("%d track(s) resolved, %d usable", len(table), usable)
sources.write_tracks(table, snakemake.output.resolved)
if usable == 0:
    reasons = "; ".join(f"{r.url}: {r.reason}" for r in table.itertuples())
    raise SystemExit(f"no usable track in {snakemake.input.sources}: {reasons}")
