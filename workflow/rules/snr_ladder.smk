# The S/N ladder: test stars made noisier, labelled by every method and scored at each S/N (a Gaia
# XP archive task's noise with each star's XP covariance). Package: labeltransfer.pipeline.snr_ladder.


rule xp_noise_model:
    input:
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
        manifest="resources/archives/gaia_xp_continuous/manifest.csv",
    output:
        noise="results/{task}/snr_ladder/xp_noise.npz",
    wildcard_constraints:
        task=one_of(XP_ARCHIVE_TASKS),
    log:
        "logs/{task}/xp_noise_model.log",
    params:
        code=script_code("xp_noise_model"),
        seed=task_seed,
        max_stars=config["snr_ladder"]["max_stars"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/{task}/xp_noise_model.tsv"
    script:
        "../scripts/xp_noise_model.py"


rule predict_snr_ladder:
    input:
        unpack(ladder_noise),
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        predictions="results/{task}/snr_ladder/{method}.csv",
    log:
        "logs/{task}/snr_ladder/{method}.log",
    params:
        code=script_code("predict_snr_ladder"),
        method=method_config,
        colours=config["colours"],
        seed=task_seed,
        ladder=config["snr_ladder"],
    threads: config["threads"]["predict"]
    resources:
        mem_mb=6000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/snr_ladder/{method}.tsv"
    script:
        "../scripts/predict_snr_ladder.py"


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
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_snr_ladder.tsv"
    script:
        "../scripts/evaluate_snr_ladder.py"


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
