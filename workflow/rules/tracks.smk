checkpoint tracks:
    input:
        sources=config["sources"],
    output:
        tracks="results/tracks.tsv",
    log:
        "results/logs/tracks.log",
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=30,
        mem_mb=1000,
    script:
        "../scripts/tracks.py"
