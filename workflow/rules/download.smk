rule download_dataset:
    output:
        data="resources/{dataset}/{filename}",
    log:
        "logs/download/{dataset}/{filename}.log",
    params:
        code=script_code("download_dataset"),
        entry=lambda wildcards: config["data"][wildcards.dataset],
        cache_dir="resources/downloads",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/download.yaml"
    benchmark:
        "benchmarks/download/{dataset}/{filename}.tsv"
    script:
        "../scripts/download_dataset.py"
