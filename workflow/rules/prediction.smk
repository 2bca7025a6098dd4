# Prediction: the test split labelled by each trained method (with the out-of-distribution flags),
# and its one-to-one figure. Package: labeltransfer.pipeline.prediction.


rule predict_method:
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        predictions="results/{task}/predictions/{method}.csv",
        timing="results/{task}/predictions/{method}.json",
    log:
        "logs/{task}/predict/{method}.log",
    params:
        code=script_code("predict_method"),
        method=method_config,
        colours=config["colours"],
        seed=task_seed,
    threads: config["threads"]["predict"]
    resources:
        mem_mb=6000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/predict/{method}.tsv"
    script:
        "../scripts/predict_method.py"


rule plot_one_to_one:
    input:
        predictions="results/{task}/predictions/{method}.csv",
    output:
        figure=report(
            "results/{task}/figures/one_to_one/{method}.png",
            caption="../report/one_to_one.rst",
            category="3. Figures",
            subcategory="One-to-one",
            labels={"method": "{method}", "figure": "one-to-one"},
        ),
    log:
        "logs/{task}/plots/one_to_one_{method}.log",
    params:
        code=script_code("plot_one_to_one"),
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/one_to_one_{method}.tsv"
    script:
        "../scripts/plot_one_to_one.py"
