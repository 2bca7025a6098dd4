# The abundance test: whether each method measures [alpha/M] from the spectrum.
# Package: labeltransfer.pipeline.abundance.


rule evaluate_abundance:
    input:
        predictions=all_predictions,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        table="results/{task}/metrics/abundance.csv",
    log:
        "logs/{task}/evaluate_abundance.log",
    params:
        code=script_code("evaluate_abundance"),
        methods=METHODS,
        labels=list(config["labels"]),
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_abundance.tsv"
    script:
        "../scripts/evaluate_abundance.py"
