rule track_status:
    input:
        resolved=lambda wildcards: checkpoints.tracks.get().output.resolved,
        mels=lambda wildcards: list(all_mel_dirs(wildcards).values()),
        code=module_inputs("track_status.py"),
    output:
        tracks="results/tracks.tsv",
    log:
        "results/logs/track_status.log",
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=10,
        mem_mb=1000,
    params:
        on_error=config["on_error"],
    script:
        "../scripts/track_status.py"
