rule download:
    input:
        tracks=tracks_file,
    output:
        audio="results/audio/{track}.mp3",
    log:
        "results/logs/download/{track}.log",
    benchmark:
        "results/benchmarks/download/{track}.tsv"
    retries: 1
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=60,
        mem_mb=1000,
    params:
        url=track_url,
    script:
        "../scripts/download.py"
