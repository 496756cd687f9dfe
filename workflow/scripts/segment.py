"""Rule `segment`: stream one track through ffmpeg into mono WAV segments."""

import json

from audiowgan.core import runlog
from audiowgan.dsp import audio

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
p = snakemake.params

with open(snakemake.input.status) as fh:
    download_status = json.load(fh)
meta = audio.segment_track(
    snakemake.input.audio,
    download_status,
    snakemake.output.segments,
    sample_rate=p.sample_rate,
    segment_seconds=p.segment_seconds,
    segment_overlap=p.segment_overlap,
    silence_threshold_db=p.silence_threshold_db,
)
log.info(
    "%.1f s of audio: %d segment(s) of %s s every %.4g s kept, %d silent dropped, %.2f s remainder dropped",
    meta["total_seconds"],
    meta["kept"],
    meta["segment_seconds"],
    meta["segment_hop_seconds"],
    meta["silent"],
    meta["remainder_seconds"],
)
if meta["status"] != "ok":
    log.warning("track skipped (%s): %s", meta["status"], meta["reason"])
