# The information bound: the Cramer-Rao bound of the S/N ladder's stars from the diagnostic Cannon
# (config: cannon_diagnostics), and each method's efficiency. Package: labeltransfer.pipeline.information.


rule information_bound:
    input:
        model=lambda wildcards: f"results/{wildcards.task}/models/{DIAGNOSTIC_CANNON}.npz",
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        bound="results/{task}/information/bound.csv",
        pixels="results/{task}/information/pixels.csv",
    log:
        "logs/{task}/information_bound.log",
    params:
        code=script_code("information_bound"),
        method=config["method_settings"][DIAGNOSTIC_CANNON],
        colours=config["colours"],
        seed=config["seed"],
        ladder=config["snr_ladder"],
    threads: 1
    resources:
        mem_mb=6000,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/information_bound.tsv"
    script:
        "../scripts/information_bound.py"


rule evaluate_information:
    input:
        ladder=rules.evaluate_snr_ladder.output.table,
        bound=rules.information_bound.output.bound,
    output:
        table="results/{task}/metrics/efficiency.csv",
    log:
        "logs/{task}/evaluate_information.log",
    params:
        code=script_code("evaluate_information"),
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_information.tsv"
    script:
        "../scripts/evaluate_information.py"


rule plot_information:
    input:
        table=rules.evaluate_information.output.table,
        pixels=rules.information_bound.output.pixels,
    output:
        figure=report(
            "results/{task}/figures/information.png",
            caption="../report/information.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "information bound"},
        ),
    log:
        "logs/{task}/plots/information.log",
    params:
        code=script_code("plot_information"),
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/information.tsv"
    script:
        "../scripts/plot_information.py"
