"""Readers and fetchers of survey data."""
