rule compare:
    input:
        # One file per run, the top level first, in the order of RUNS (the script groups them by it).
        metrics=run_outputs(rules.evaluate.output.metrics),
        losses=run_outputs([rules.train.output.losses]),
        reports=run_outputs(rules.report.output),
        clips=run_outputs([CLIPS[i] for i in COMPARED_CLIPS]),
        clip_images=run_outputs([rules.plots.output.clips[i] for i in COMPARED_CLIPS]),
        code=module_inputs("compare.py"),
        template=str(SCRIPTS / "audiowgan" / "look" / "templates" / "compare.html.j2"),
    output:
        html=COMPARISON,
        table="results/experiments/comparison.csv",
        markdown="results/experiments/comparison.md",
        losses="results/experiments/losses.png",
    log:
        "results/logs/compare.log",
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        runs=[label(exp) for exp in RUNS],
        # Shown beside each experiment; a param, so that editing one redraws the page (result-neutral
        # keys left out: changing one reruns nothing).
        overrides=shown_overrides(config),
    script:
        "../scripts/compare.py"
