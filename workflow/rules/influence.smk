# The flux influence: where each method with smooth labels reads each label, against where the
# information is. Package: labeltransfer.pipeline.influence.


rule flux_influence:
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        table="results/{task}/influence/{method}.csv",
    log:
        "logs/{task}/influence/{method}.log",
    wildcard_constraints:
        method=one_of(INFLUENCE_METHODS),
    params:
        code=script_code("flux_influence"),
        method=method_config,
        colours=config["colours"],
        seed=task_seed,
        max_stars=config["influence"]["max_stars"],
    threads: config["threads"]["predict"]
    resources:
        mem_mb=6000,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/influence/{method}.tsv"
    script:
        "../scripts/flux_influence.py"


rule evaluate_influence:
    input:
        tables=influence_tables,
        pixels=rules.information_bound.output.pixels,
    output:
        table="results/{task}/metrics/influence.csv",
    log:
        "logs/{task}/evaluate_influence.log",
    params:
        code=script_code("evaluate_influence"),
        methods=INFLUENCE_METHODS,
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_influence.tsv"
    script:
        "../scripts/evaluate_influence.py"


rule plot_influence:
    input:
        tables=influence_tables,
        pixels=rules.information_bound.output.pixels,
    output:
        figure=report(
            "results/{task}/figures/influence.png",
            caption="../report/influence.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "influence"},
        ),
    log:
        "logs/{task}/plots/influence.log",
    params:
        code=script_code("plot_influence"),
        methods=INFLUENCE_METHODS,
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/influence.tsv"
    script:
        "../scripts/plot_influence.py"
