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
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate.tsv"
    script:
        "../scripts/evaluate_methods.py"


rule evaluate_snr_ladder:
    input:
        predictions=ladder_predictions,
        sample=rules.prepare_sample.output.sample,
    output:
        table="results/{task}/metrics/snr_ladder.csv",
        magnitudes="results/{task}/metrics/snr_at_g.csv",
    log:
        "logs/{task}/evaluate_snr_ladder.log",
    params:
        code=script_code("evaluate_snr_ladder"),
        methods=METHODS,
        labels=list(config["labels"]),
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_snr_ladder.tsv"
    script:
        "../scripts/evaluate_snr_ladder.py"


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
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_learning_curve.tsv"
    script:
        "../scripts/evaluate_learning_curve.py"


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
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_wavelength_subsets.tsv"
    script:
        "../scripts/evaluate_wavelength_subsets.py"


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
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_trends.tsv"
    script:
        "../scripts/evaluate_trends.py"


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


rule evaluate_abundance:
    input:
        predictions=all_predictions,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        table="results/{task}/metrics/abundance.csv",
    log:
        "logs/{task}/evaluate_abundance.log",
    params:
        code=script_code("evaluate_abundance"),
        methods=METHODS,
        labels=list(config["labels"]),
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_abundance.tsv"
    script:
        "../scripts/evaluate_abundance.py"


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
