"""Workflow steps, one function each, called by the Snakemake scripts."""
