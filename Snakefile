# audio-wgan: music URLs -> mel spectrograms -> WGAN-GP -> generated clips.
# Run: snakemake --cores 8 --resources gpu=1   (see README.md)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Seconds of work each; `tracks` resolves URLs, which needs the network (login nodes have it).
localrules:
    all,
    tracks,
    track_status,


include: "workflow/rules/common.smk"
include: "workflow/rules/tracks.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/mel.smk"
include: "workflow/rules/pack.smk"
include: "workflow/rules/status.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/longform.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/nearest.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/compare.smk"


rule all:
    default_target: True
    input:
        # Every run: the top level (results/...) and each experiment (results/experiments/<name>/...).
        run_outputs(
            rules.generate.output,
            rules.longform.output,
            [rules.train.output.losses],
            rules.evaluate.output,
            rules.nearest.output,
            rules.plots.output,
            rules.report.output,
        ),
        rules.compare.output if len(RUNS) > 1 else [],
        rules.track_status.output.tracks,
