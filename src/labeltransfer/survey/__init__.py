"""Labelling stars that have no labels: a survey's files block by block, its catalogue files, and
the summary and figure of a labelled survey."""
