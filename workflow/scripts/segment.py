"""Rule `segment`: stream one track through ffmpeg into mono WAV segments."""

import json
from pathlib import Path

from audiowgan import audio, runlog

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
p = snakemake.params

out = Path(snakemake.output.segments)
summary = audio.segment_file(
    snakemake.input.audio, out, sample_rate=p.sample_rate, segment_seconds=p.segment_seconds,
    silence_threshold_db=p.silence_threshold_db,
)  # fmt: skip
meta = {"sample_rate": p.sample_rate, "segment_seconds": p.segment_seconds,
        "silence_threshold_db": p.silence_threshold_db, **vars(summary)}  # fmt: skip
(out / "segments.json").write_text(json.dumps(meta, indent=2) + "\n")
log.info(
    "%.1f s of audio: %d segment(s) kept, %d silent dropped, %.2f s remainder dropped",
    summary.total_seconds, summary.kept, summary.silent, summary.remainder_seconds,
)  # fmt: skip
if summary.kept == 0:
    log.warning("track yielded no segment (too short or silent); it is left out of the dataset")
