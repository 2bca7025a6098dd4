rule crossmatch_parallax:
    wildcard_constraints:
        task=one_of(LIBRARY_TASKS),
    input:
        library=dataset_path("library"),
        catalogue=dataset_path("parallax_catalogue"),
    output:
        matches="results/{task}/crossmatch/matches.csv",
        stats="results/{task}/crossmatch/stats.json",
        figure=report(
            "results/{task}/crossmatch/separation.png",
            caption="../report/crossmatch.rst",
            category="1. Data",
            subcategory="Cross-match",
        ),
    log:
        "logs/{task}/crossmatch.log",
    params:
        code=script_code("crossmatch_parallax"),
        radius_arcsec=config["crossmatch"]["radius_arcsec"],
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/science.yaml"
    benchmark:
        "benchmarks/{task}/crossmatch.tsv"
    script:
        "../scripts/crossmatch_parallax.py"
