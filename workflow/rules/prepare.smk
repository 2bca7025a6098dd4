rule prepare_sample:
    input:
        library=dataset_path("library"),
        matches=rules.crossmatch_parallax.output.matches,
    output:
        sample="results/{task}/data/sample.npz",
        split="results/{task}/data/split.csv",
    log:
        "logs/{task}/prepare.log",
    params:
        labels=config["labels"],
        quality=config["quality"],
        colours=config["colours"],
        split=config["split"],
        max_stars=config["max_stars"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=6000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/prepare.tsv"
    script:
        "../scripts/prepare_sample.py"
