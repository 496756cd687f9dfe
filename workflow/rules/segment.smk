rule segment:
    input:
        audio="results/audio/{track}.mp3",
        status="results/audio/{track}.json",
        code=module_inputs("segment.py"),
    output:
        segments=directory("results/segments/{track}"),
    log:
        "results/logs/segment/{track}.log",
    benchmark:
        "results/benchmarks/segment/{track}.tsv"
    # One SLURM job handles many tracks' download, segment and mel (profiles/slurm: group-components).
    group:
        "track"
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=60,
        mem_mb=1000,
    params:
        sample_rate=AUDIO["sample_rate"],
        segment_seconds=AUDIO["segment_seconds"],
        # 0: side by side. Changing it reruns segment and what follows, never download.
        segment_overlap=AUDIO["segment_overlap"],
        silence_threshold_db=AUDIO["silence_threshold_db"],
    script:
        "../scripts/segment.py"
