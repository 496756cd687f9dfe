rule report:
    input:
        metrics=rules.evaluate.output.metrics,
        nearest=rules.nearest.output.nearest,
        nearest_segments=rules.nearest.output.segments,
        manifest="results/{exp}generated/manifest.csv",
        clips=CLIPS,
        clip_images=rules.plots.output.clips,
        losses=rules.plots.output.losses,
        spectrograms=rules.plots.output.spectrograms,
        copies=compressed(CLIPS + PIECES),
        longform=rules.longform.output.manifest,
        pieces=PIECES,
        code=module_inputs("report.py"),
        template=str(SCRIPTS / "audiowgan" / "look" / "templates" / "report.html.j2"),
    output:
        html=report(
            "results/{exp}report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        "results/logs/{exp}report.log",
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        title=lambda wildcards: report_title(wildcards.exp),
        # Linked from every run's report when there are experiments (not an input: no report waits for them all).
        comparison=COMPARISON if len(RUNS) > 1 else None,
    script:
        "../scripts/report.py"
