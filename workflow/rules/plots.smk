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


rule plot_loss_curve:
    input:
        timing=rules.train_method.output.timing,
    output:
        figure=report(
            "results/{task}/figures/loss_curve/{method}.png",
            caption="../report/loss_curve.rst",
            category="3. Figures",
            subcategory="Training",
            labels={"method": "{method}", "figure": "loss curve"},
        ),
    log:
        "logs/{task}/plots/loss_curve_{method}.log",
    params:
        code=script_code("plot_loss_curve"),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/loss_curve_{method}.tsv"
    script:
        "../scripts/plot_loss_curve.py"


rule plot_ensemble_calibration:
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        figure=report(
            "results/{task}/figures/ensemble_calibration/{method}.png",
            caption="../report/ensemble_calibration.rst",
            category="3. Figures",
            subcategory="Uncertainties",
            labels={"method": "{method}", "figure": "ensemble calibration"},
        ),
    log:
        "logs/{task}/plots/ensemble_calibration_{method}.log",
    params:
        code=script_code("plot_ensemble_calibration"),
        method=method_config,
        colours=config["colours"],
        seed=config["seed"],
        snr_bins=config["snr_bins"],
    threads: config["threads"]["predict"]
    resources:
        mem_mb=6000,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/plots/ensemble_calibration_{method}.tsv"
    script:
        "../scripts/plot_ensemble_calibration.py"


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


rule plot_snr_ladder:
    input:
        table=rules.evaluate_snr_ladder.output.table,
        magnitudes=rules.evaluate_snr_ladder.output.magnitudes,
    output:
        figure=report(
            "results/{task}/figures/snr_ladder.png",
            caption="../report/snr_ladder.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "S/N ladder"},
        ),
    log:
        "logs/{task}/plots/snr_ladder.log",
    params:
        code=script_code("plot_snr_ladder"),
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/snr_ladder.tsv"
    script:
        "../scripts/plot_snr_ladder.py"


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


rule plot_residual_trends:
    input:
        predictions=all_predictions,
        sample=rules.prepare_sample.output.sample,
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


rule plot_anomalies:
    input:
        spectra=rules.cannon_anomalies.output.spectra,
        stacked=rules.cannon_anomalies.output.stacked,
    output:
        figure=report(
            "results/{task}/figures/anomalies.png",
            caption="../report/anomalies.rst",
            category="3. Figures",
            subcategory="Comparison",
            labels={"figure": "anomalies"},
        ),
    log:
        "logs/{task}/plots/anomalies.log",
    params:
        code=script_code("plot_anomalies"),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/anomalies.tsv"
    script:
        "../scripts/plot_anomalies.py"


rule plot_crossmatch:
    input:
        matches="results/{task}/crossmatch/matches.csv",
        stats="results/{task}/crossmatch/stats.json",
    output:
        figure=report(
            "results/{task}/crossmatch/separation.png",
            caption="../report/crossmatch.rst",
            category="1. Data",
            subcategory="Cross-match",
        ),
    wildcard_constraints:
        task=one_of(CROSSMATCH_TASKS),
    log:
        "logs/{task}/plots/crossmatch.log",
    params:
        code=script_code("plot_crossmatch"),
        source=lambda wildcards: SOURCES[wildcards.task],
        radius_arcsec=config["crossmatch"]["radius_arcsec"],
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/crossmatch.tsv"
    script:
        "../scripts/plot_crossmatch.py"
