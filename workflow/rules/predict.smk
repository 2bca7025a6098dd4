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


rule predict_snr_ladder:
    input:
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
