# How well each spectrum model (the methods whose type models the spectrum: the Payne's emulator) describes
# the spectra: the validation stars' reduced chi-square per S/N bin, with and without the model's intrinsic
# scatter, and the test stars' fitted extinction against the reference. Package: labeltransfer.pipeline.spectrum_model.


rule evaluate_spectrum_model:
    wildcard_constraints:
        method=one_of(SPECTRUM_MODEL_METHODS),
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        table="results/{task}/metrics/spectrum_model/{method}.csv",
        fits="results/{task}/spectrum_model/{method}.npz",
    log:
        "logs/{task}/evaluate_spectrum_model/{method}.log",
    params:
        code=script_code("evaluate_spectrum_model"),
        method=method_config,
        colours=config["colours"],
        seed=task_seed,
        snr_bins=config["snr_bins"],
    threads: config["threads"]["predict"]
    resources:
        mem_mb=6000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_spectrum_model/{method}.tsv"
    script:
        "../scripts/evaluate_spectrum_model.py"


rule plot_spectrum_model:
    input:
        table=rules.evaluate_spectrum_model.output.table,
        fits=rules.evaluate_spectrum_model.output.fits,
    output:
        figure=report(
            "results/{task}/figures/spectrum_model/{method}.png",
            caption="../report/spectrum_model.rst",
            category="3. Figures",
            subcategory="Spectrum model",
            labels={"method": "{method}", "figure": "spectrum model"},
        ),
    log:
        "logs/{task}/plots/spectrum_model_{method}.log",
    params:
        code=script_code("plot_spectrum_model"),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/spectrum_model_{method}.tsv"
    script:
        "../scripts/plot_spectrum_model.py"
