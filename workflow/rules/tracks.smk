checkpoint tracks:
    input:
        sources=config["sources"],
        code=module_inputs("tracks.py"),
    output:
        resolved="results/resolved.tsv",
    log:
        "results/logs/tracks.log",
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=30,
        mem_mb=1000,
    script:
        "../scripts/tracks.py"
