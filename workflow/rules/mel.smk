rule mel:
    input:
        segments="results/segments/{track}",
        code=module_inputs("mel.py"),
    output:
        mels=directory("results/mel/{track}"),
    log:
        "results/logs/mel/{track}.log",
    benchmark:
        "results/benchmarks/mel/{track}.tsv"
    # One SLURM job handles many tracks' download, segment and mel (profiles/slurm: group-components).
    group:
        "track"
    conda:
        "../../envs/audio.yaml"
    # One job per track already fills the cores; raise it for a few long tracks
    # (`--set-threads mel=4`): the segments of a track are then computed in parallel.
    threads: 1
    resources:
        runtime=60,
        mem_mb=2000,
    params:
        n_fft=MEL["n_fft"],
        hop_length=MEL["hop_length"],
        n_mels=MEL["n_mels"],
        top_db=MEL["top_db"],
        fmin=MEL["fmin"],
        fmax=MEL["fmax"],
    script:
        "../scripts/mel.py"
