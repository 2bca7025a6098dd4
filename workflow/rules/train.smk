rule train_method:
    input:
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        model="results/{task}/models/{method}.npz",
        timing="results/{task}/models/{method}.fit.json",
    log:
        "logs/{task}/train/{method}.log",
    params:
        code=script_code("train_method"),
        method=method_config,
        colours=config["colours"],
        seed=config["seed"],
    threads: config["threads"]["train"]
    resources:
        mem_mb=8000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/train/{method}.tsv"
    script:
        "../scripts/train_method.py"


rule learning_curve:
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        predictions="results/{task}/learning_curve/{method}.csv",
    log:
        "logs/{task}/learning_curve/{method}.log",
    params:
        code=script_code("learning_curve"),
        method=method_config,
        colours=config["colours"],
        seed=config["seed"],
        curve=config["learning_curve"],
    threads: config["threads"]["train"]
    resources:
        mem_mb=8000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/learning_curve/{method}.tsv"
    script:
        "../scripts/learning_curve.py"


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
        seed=config["seed"],
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
