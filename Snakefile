from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/archives.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/prediction.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/snr_ladder.smk"
include: "workflow/rules/learning_curve.smk"
include: "workflow/rules/wavelength_subsets.smk"
include: "workflow/rules/information.smk"
include: "workflow/rules/influence.smk"
include: "workflow/rules/anomalies.smk"
include: "workflow/rules/trends.smk"
include: "workflow/rules/abundance.smk"
include: "workflow/rules/neural.smk"
include: "workflow/rules/spectrum_model.smk"
include: "workflow/rules/survey.smk"
include: "workflow/rules/seed_study.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
