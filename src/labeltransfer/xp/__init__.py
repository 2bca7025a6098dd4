"""Gaia XP spectra: the basis that turns coefficients into sampled flux, the one route from coefficients
to the methods' normalised spectra (:mod:`labeltransfer.xp.flux`, for the archive tasks and the survey
alike), their noise, the readers of the archive's and the library's XP files, and synthetic XP sources
for tests and benches."""
