# Each task's sample: the cross-match (a task whose source has one) and its figure, then the
# sample and its frozen split. Package: labeltransfer.pipeline.sample.


rule crossmatch:
    wildcard_constraints:
        task=one_of(CROSSMATCH_TASKS),
    input:
        unpack(crossmatch_inputs),
    output:
        matches="results/{task}/crossmatch/matches.csv",
        stats="results/{task}/crossmatch/stats.json",
    log:
        "logs/{task}/crossmatch.log",
    params:
        code=script_code("crossmatch"),
        source=lambda wildcards: SOURCES[wildcards.task],
        radius_arcsec=config["crossmatch"]["radius_arcsec"],
        lamost=ARCHIVES.get("lamost", {}),
    threads: 1
    resources:
        mem_mb=8000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/{task}/crossmatch.tsv"
    script:
        "../scripts/crossmatch.py"


rule prepare_sample:
    input:
        unpack(sample_inputs),
    output:
        sample="results/{task}/data/sample.npz",
        split="results/{task}/data/split.csv",
    log:
        "logs/{task}/prepare.log",
    params:
        code=script_code("prepare_sample"),
        source=lambda wildcards: SOURCES[wildcards.task],
        # the LAMOST adapter's settings; a function, so that other tasks do not rerun when they change
        lamost=lambda wildcards: ARCHIVES["lamost"] if SOURCES[wildcards.task] == "lamost" else {},
        settings=sample_settings,
    threads: 1
    resources:
        mem_mb=lambda wildcards: 6000 if SOURCES[wildcards.task] == "xp_library" else 16000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/{task}/prepare.tsv"
    script:
        "../scripts/prepare_sample.py"


rule plot_crossmatch:
    input:
        matches="results/{task}/crossmatch/matches.csv",
        stats="results/{task}/crossmatch/stats.json",
    output:
        figure=report(
            "results/{task}/crossmatch/separation.png",
            caption="../report/crossmatch.rst",
            category="1. Data",
            subcategory="Cross-match",
        ),
    wildcard_constraints:
        task=one_of(CROSSMATCH_TASKS),
    log:
        "logs/{task}/plots/crossmatch.log",
    params:
        code=script_code("plot_crossmatch"),
        source=lambda wildcards: SOURCES[wildcards.task],
        radius_arcsec=config["crossmatch"]["radius_arcsec"],
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/plots/crossmatch.tsv"
    script:
        "../scripts/plot_crossmatch.py"
