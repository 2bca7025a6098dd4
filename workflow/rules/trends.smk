# The residual trends: every method's residuals against extinction, brightness and sky position at
# fixed reference labels.
# Package: labeltransfer.pipeline.trends.


rule evaluate_trends:
    input:
        predictions=all_predictions,
        sample=rules.prepare_sample.output.sample,
    output:
        table="results/{task}/metrics/trends.csv",
    log:
        "logs/{task}/evaluate_trends.log",
    params:
        code=script_code("evaluate_trends"),
        methods=METHODS,
        labels=list(config["labels"]),
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_trends.tsv"
    script:
        "../scripts/evaluate_trends.py"


rule plot_residual_trends:
    input:
        table=rules.evaluate_trends.output.table,
    output:
        figure=report(
            "results/{task}/figures/residual_trends.png",
            caption="../report/residual_trends.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "residual trends"},
        ),
    log:
        "logs/{task}/plots/residual_trends.log",
    params:
        code=script_code("plot_residual_trends"),
        methods=METHODS,
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/residual_trends.tsv"
    script:
        "../scripts/plot_residual_trends.py"
