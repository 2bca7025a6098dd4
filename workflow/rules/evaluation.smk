# Evaluation: the test-set metrics of every method (bootstrap intervals, paired comparison, costs,
# out-of-distribution table) and the figures that compare the methods (calibration per S/N and Teff bin
# included).
# Package: labeltransfer.pipeline.evaluation.


rule evaluate_methods:
    input:
        unpack(all_timings),
        predictions=all_predictions,
        sample=rules.prepare_sample.output.sample,
    output:
        summary="results/{task}/metrics/summary.csv",
        comparison="results/{task}/metrics/comparison.csv",
        table=report(
            "results/{task}/metrics/summary.md",
            caption="../report/summary.rst",
            category="2. Metrics",
        ),
        costs="results/{task}/metrics/costs.csv",
        ood="results/{task}/metrics/ood.csv",
    log:
        "logs/{task}/evaluate.log",
    params:
        code=script_code("evaluate_methods"),
        methods=METHODS,
        labels=list(config["labels"]),
        snr_bins=config["snr_bins"],
        teff_bins=config["teff_bins"],
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate.tsv"
    script:
        "../scripts/evaluate_methods.py"


rule plot_comparison:
    wildcard_constraints:
        figure=one_of(COMPARISON_FIGURES),
    input:
        predictions=all_predictions,
        summary=rules.evaluate_methods.output.summary,
        costs=rules.evaluate_methods.output.costs,
    output:
        figure=report(
            "results/{task}/figures/{figure}.png",
            caption="../report/comparison.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "{figure}"},
        ),
    log:
        "logs/{task}/plots/{figure}.log",
    params:
        code=script_code("plot_comparison"),
        methods=METHODS,
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/{figure}.tsv"
    script:
        "../scripts/plot_comparison.py"


rule plot_calibration_per_bin:
    input:
        summary=rules.evaluate_methods.output.summary,
    output:
        figure=report(
            "results/{task}/figures/calibration_per_bin.png",
            caption="../report/calibration.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "calibration_per_bin"},
        ),
    log:
        "logs/{task}/plots/calibration_per_bin.log",
    params:
        code=script_code("plot_calibration_per_bin"),
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/calibration_per_bin.tsv"
    script:
        "../scripts/plot_calibration_per_bin.py"
