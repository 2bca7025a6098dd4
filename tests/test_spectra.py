import warnings

import numpy as np
import pytest

from labeltransfer.data.spectra import median_snr


@pytest.mark.parametrize("n_pixels", [7, 8])
def test_median_snr_equals_nanmedian_with_masked_pixels(n_pixels):
    """The partial-sort path (complete spectra) and the NaN path agree with np.nanmedian."""
    rng = np.random.default_rng(3)
    flux = rng.normal(10.0, 3.0, (40, n_pixels)).astype(np.float32)
    flux_error = rng.uniform(0.5, 2.0, (40, n_pixels)).astype(np.float32)
    flux_error[::4, 2] = np.inf  # masked pixels: an odd count left where n_pixels is even
    flux[5, 1] = np.nan  # a non-finite flux with a finite error
    flux_error[9] = np.inf  # no pixel left: NaN
    ratio = np.where(np.isfinite(flux_error), flux / flux_error, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(ratio, axis=1)
    snr = median_snr(flux, flux_error)
    assert np.isnan(snr[9])
    np.testing.assert_allclose(snr, expected, rtol=1e-6, equal_nan=True)


def test_median_snr_of_complete_spectra_averages_the_two_middle_pixels():
    flux = np.array([[1.0, 4.0, 2.0, 3.0], [5.0, 1.0, 3.0, 2.0]])
    assert median_snr(flux, np.ones_like(flux)).tolist() == [2.5, 2.5]
