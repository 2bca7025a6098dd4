# The wavelength subsets (config: wavelength_subsets: bands): every method retrained on each band's
# pixels alone, against all pixels. Package: labeltransfer.pipeline.wavelength_subsets.


rule wavelength_subsets:
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        predictions="results/{task}/wavelength_subsets/{method}.csv",
    log:
        "logs/{task}/wavelength_subsets/{method}.log",
    params:
        code=script_code("wavelength_subsets"),
        method=method_config,
        colours=config["colours"],
        seed=task_seed,
        subsets=config["wavelength_subsets"],
    threads: config["threads"]["train"]
    resources:
        mem_mb=8000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/wavelength_subsets/{method}.tsv"
    script:
        "../scripts/wavelength_subsets.py"


rule evaluate_wavelength_subsets:
    input:
        predictions=subset_predictions,
    output:
        table="results/{task}/metrics/wavelength_subsets.csv",
    log:
        "logs/{task}/evaluate_wavelength_subsets.log",
    params:
        code=script_code("evaluate_wavelength_subsets"),
        methods=METHODS,
        labels=list(config["labels"]),
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_wavelength_subsets.tsv"
    script:
        "../scripts/evaluate_wavelength_subsets.py"
