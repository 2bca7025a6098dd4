# The neural methods' figures: loss curves and one network against its ensemble.
# Package: labeltransfer.pipeline.neural.


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
        seed=task_seed,
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
