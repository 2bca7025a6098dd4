rule prepare_sample:
    wildcard_constraints:
        task=one_of(LIBRARY_TASKS),
    input:
        library=dataset_path("library"),
        matches=rules.crossmatch_parallax.output.matches,
    output:
        sample="results/{task}/data/sample.npz",
        split="results/{task}/data/split.csv",
    log:
        "logs/{task}/prepare.log",
    params:
        code=script_code("prepare_sample"),
        settings=SAMPLE_SETTINGS,
    threads: 1
    resources:
        mem_mb=6000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/prepare.tsv"
    script:
        "../scripts/prepare_sample.py"
