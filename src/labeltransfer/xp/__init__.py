"""Gaia XP spectra: the basis that turns coefficients into sampled flux, their noise, the readers of
the archive's and the library's XP files, and synthetic XP sources for tests and benches."""
