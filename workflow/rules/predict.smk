rule predict_method:
    input:
        model=rules.train_method.output.model,
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        predictions="results/{task}/predictions/{method}.csv",
        timing="results/{task}/predictions/{method}.json",
    log:
        "logs/{task}/predict/{method}.log",
    params:
        code=script_code("predict_method"),
        method=method_config,
        colours=config["colours"],
        seed=config["seed"],
    threads: config["threads"]["predict"]
    resources:
        mem_mb=6000,
        gpu=method_gpus,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/predict/{method}.tsv"
    script:
        "../scripts/predict_method.py"


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
        seed=config["seed"],
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
        seed=config["seed"],
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
        seed=config["seed"],
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
        seed=config["seed"],
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
