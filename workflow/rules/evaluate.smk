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
