"""The labelled stars every stage reads: spectra, the typed record of a source's stars, the sample,
its frozen split, cross-matching on the sky and resampling of spectra."""
