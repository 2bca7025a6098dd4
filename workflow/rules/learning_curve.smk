# The learning curve: every method retrained on nested subsets of the training split.
# Package: labeltransfer.pipeline.learning_curve.


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
        seed=task_seed,
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


rule evaluate_learning_curve:
    input:
        predictions=curve_predictions,
    output:
        table="results/{task}/metrics/learning_curve.csv",
    log:
        "logs/{task}/evaluate_learning_curve.log",
    params:
        code=script_code("evaluate_learning_curve"),
        methods=METHODS,
        labels=list(config["labels"]),
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_learning_curve.tsv"
    script:
        "../scripts/evaluate_learning_curve.py"


rule plot_learning_curve:
    input:
        table=rules.evaluate_learning_curve.output.table,
    output:
        figure=report(
            "results/{task}/figures/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "learning curve"},
        ),
    log:
        "logs/{task}/plots/learning_curve.log",
    params:
        code=script_code("plot_learning_curve"),
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/learning_curve.tsv"
    script:
        "../scripts/plot_learning_curve.py"
