# The information bound: the van Trees bound on the S/N ladder's stars under the spectrum model of the
# method named by `information: method` (the Payne's emulator), with XP's noise in coefficient space plus
# the ladder's, and the population prior; the efficiency of each method that reads the flux alone.
# Package: labeltransfer.pipeline.information.


rule information_bound:
    input:
        unpack(ladder_noise),
        model=lambda wildcards: f"results/{wildcards.task}/models/{INFORMATION_MODEL}.npz",
        sample=rules.prepare_sample.output.sample,
        split=rules.prepare_sample.output.split,
    output:
        fisher="results/{task}/information/fisher.npz",
        bound="results/{task}/information/bound.csv",
        prior="results/{task}/information/prior.csv",
        pixels="results/{task}/information/pixels.csv",
    log:
        "logs/{task}/information_bound.log",
    params:
        code=script_code("information_bound"),
        method=config["method_settings"][INFORMATION_MODEL],
        model_name=INFORMATION_MODEL,
        colours=config["colours"],
        seed=task_seed,
        ladder=config["snr_ladder"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/information_bound.tsv"
    script:
        "../scripts/information_bound.py"


rule evaluate_information:
    input:
        predictions=ladder_predictions,
        fisher=rules.information_bound.output.fisher,
    output:
        table="results/{task}/metrics/efficiency.csv",
    log:
        "logs/{task}/evaluate_information.log",
    params:
        code=script_code("evaluate_information"),
        methods=METHODS,
        feature_sets={m: config["method_settings"][m]["feature_set"] for m in METHODS},
        labels=list(config["labels"]),
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/evaluate_information.tsv"
    script:
        "../scripts/evaluate_information.py"


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
        methods=METHODS,
        feature_sets={m: config["method_settings"][m]["feature_set"] for m in METHODS},
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
