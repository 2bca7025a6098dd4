# The seed study (config: seed_study: tasks): the default study run on several split seeds, each a
# task of its own, summarised over the seeds: mean, spread between seeds, claims that hold on every seed.
# Package: labeltransfer.pipeline.seed_study.


rule evaluate_seed_study:
    input:
        summaries=expand("results/{task}/metrics/summary.csv", task=SEED_STUDY_TASKS),
        comparisons=expand("results/{task}/metrics/comparison.csv", task=SEED_STUDY_TASKS),
    output:
        spread="results/seed_study/spread.csv",
        claims="results/seed_study/claims.csv",
        table=report(
            "results/seed_study/summary.md",
            caption="../report/seed_study.rst",
            category="2. Metrics",
        ),
    log:
        "logs/seed_study/evaluate.log",
    params:
        code=script_code("evaluate_seed_study"),
        tasks=SEED_STUDY_TASKS,
        seeds=[TASK_SEEDS[task] for task in SEED_STUDY_TASKS],
        labels=list(config["labels"]),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/seed_study/evaluate.tsv"
    script:
        "../scripts/evaluate_seed_study.py"
