# Label a whole survey (config: survey): a Gaia DR3 bulk-download folder's checksum manifest (XP
# continuous or RVS mean spectra; a checkpoint: it decides the chunks), one download and one
# labelling job per chunk (scatter), and a summary and figure per method over all chunks (gather).
# A chunk job's memory is bounded by survey.block_rows; a failed chunk fails only its job
# (--keep-going labels the others), and a rerun does only the chunks whose catalogues are missing.
# Package: labeltransfer.pipeline.survey.


checkpoint survey_manifest:
    output:
        manifest=f"resources/survey/{SURVEY['manifest']}",
    log:
        "logs/survey/manifest.log",
    params:
        code=script_code("download_survey_file"),
        url=SURVEY["base_url"] + SURVEY["manifest"],
        timeout=ARCHIVES.get("timeout_s", 300),
    threads: 1
    resources:
        mem_mb=500,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/survey/manifest.tsv"
    script:
        "../scripts/download_survey_file.py"


rule download_survey_chunk:
    input:
        manifest=rules.survey_manifest.output.manifest,
    output:
        chunk="resources/survey/{chunk}.csv.gz",
    wildcard_constraints:
        chunk=r"[A-Za-z0-9_.+-]+",
    log:
        "logs/survey/download/{chunk}.log",
    params:
        code=script_code("download_survey_file"),
        url=lambda wildcards: f"{SURVEY['base_url']}{wildcards.chunk}.csv.gz",
        timeout=ARCHIVES.get("timeout_s", 300),
    threads: 1
    resources:
        mem_mb=500,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/survey/download/{chunk}.tsv"
    script:
        "../scripts/download_survey_file.py"


# the training set's side of a method's flags, once for all chunks (a chunk job then reads
# neither the sample nor the split: seconds less a job, and less memory)
rule survey_domain:
    input:
        model="results/{task}/models/{method}.npz",
        sample="results/{task}/data/sample.npz",
        split="results/{task}/data/split.csv",
    output:
        domain="results/{task}/survey/domains/{method}.npz",
    wildcard_constraints:
        task=SURVEY_TASK,
    log:
        "logs/{task}/survey/domains/{method}.log",
    params:
        code=script_code("write_survey_domain"),
        seed=task_seed,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/{task}/survey/domains/{method}.tsv"
    script:
        "../scripts/write_survey_domain.py"


rule label_survey_chunk:
    input:
        chunk=rules.download_survey_chunk.output.chunk,
        models=expand("results/{task}/models/{method}.npz", task=SURVEY_TASK, method=SURVEY["methods"]),
        domains=expand(rules.survey_domain.output.domain, task=SURVEY_TASK, method=SURVEY["methods"]),
    output:
        catalogues=expand("results/{task}/survey/{method}/{{chunk}}.parquet", task=SURVEY_TASK, method=SURVEY["methods"]),
    log:
        "logs/survey/label/{chunk}.log",
    params:
        code=script_code("label_survey_chunk"),
        methods=SURVEY["methods"],
        block_rows=SURVEY["block_rows"],
        metadata={"data_release": SURVEY["data_release"], "survey": SURVEY},
    # one thread: reading the chunk's text is most of the job and does not run in parallel; a node
    # labels as many chunks at once as it has cores
    threads: 1
    resources:
        mem_mb=SURVEY["mem_mb"],
    conda:
        "../../envs/methods.yaml"
    benchmark:
        "benchmarks/survey/label/{chunk}.tsv"
    script:
        "../scripts/label_survey_chunk.py"


rule gather_survey:
    input:
        catalogues=survey_catalogues,
    output:
        summary="results/{task}/metrics/survey/{method}.csv",
        figure=report(
            "results/{task}/figures/survey/{method}.png",
            caption="../report/survey.rst",
            category="Survey",
            labels={"method": "{method}"},
        ),
    wildcard_constraints:
        task=SURVEY_TASK,
    log:
        "logs/{task}/survey/{method}.log",
    params:
        code=script_code("gather_survey"),
        labels=config["labels"],
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/survey/{method}.tsv"
    script:
        "../scripts/gather_survey.py"
