# Training: each configured method fitted on each task's training split.
# Package: labeltransfer.pipeline.training.


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
        seed=task_seed,
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
