"""Where and why the methods fail: the S/N ladder's degraded spectra, flux influence, residual trends,
abundance or correlation, out-of-distribution flags, and their figures."""
