# The anomalies: the test stars the diagnostic Cannon fits worst. Package: labeltransfer.pipeline.anomalies.


rule cannon_anomalies:
    input:
        model=lambda wildcards: f"results/{wildcards.task}/models/{DIAGNOSTIC_CANNON}.npz",
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        ranking="results/{task}/anomalies/ranking.csv",
        spectra="results/{task}/anomalies/spectra.npz",
        stacked="results/{task}/anomalies/stacked.csv",
    log:
        "logs/{task}/cannon_anomalies.log",
    params:
        code=script_code("cannon_anomalies"),
        method=config["method_settings"][DIAGNOSTIC_CANNON],
        colours=config["colours"],
        seed=task_seed,
        n_top=config["cannon_diagnostics"]["n_anomalies"],
    threads: 1
    resources:
        mem_mb=6000,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/cannon_anomalies.tsv"
    script:
        "../scripts/cannon_anomalies.py"


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
