checkpoint tracks:
    input:
        sources=config["sources"],
    output:
        tracks="results/tracks.tsv",
    conda:
        "../../envs/audio.yaml"
    log:
        "results/logs/tracks.log",
    resources:
        runtime=30,
        mem_mb=1000,
    script:
        "../scripts/tracks.py"
