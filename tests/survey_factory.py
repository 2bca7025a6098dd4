"""Small generated survey files in the real formats (for tests that must run without ../shared).

Column names, HDU layout and header keywords follow the real APOGEE DR17 allStar catalogue
and LAMOST low-resolution spectra (see ``../shared/fixtures/real``); the values are made up.
"""

import gzip

import numpy as np
import pandas as pd
from astropy.io import fits

LAMOST_WAVELENGTH = 10 ** (3.5682 + 1e-4 * np.arange(3909))  # vacuum Angstrom, as in DR10


def allstar_rows(n, seed=0):
    """Columns of an allStar table with ``n`` plausible stars (no flags set)."""
    rng = np.random.default_rng(seed)
    teff = rng.uniform(4000, 6500, n)
    columns = {
        "APOGEE_ID": np.array([f"2M{i:08d}+{i % 90:02d}00000" for i in range(n)]),
        "TELESCOPE": np.full(n, "apo25m"), "FIELD": np.full(n, "K21_071+10"),
        "RA": rng.uniform(0, 360, n), "DEC": rng.uniform(-30, 60, n),
        "SNR": rng.uniform(50, 300, n).astype(np.float32),
        "VHELIO_AVG": rng.normal(0, 40, n).astype(np.float32),
        "GAIAEDR3_SOURCE_ID": rng.integers(1, 2 ** 62, n), "GAIAEDR3_PARALLAX": rng.uniform(0.1, 3, n).astype(np.float32),
        "GAIAEDR3_PARALLAX_ERROR": np.full(n, 0.02, np.float32),
        "GAIAEDR3_PMRA": rng.normal(0, 5, n).astype(np.float32), "GAIAEDR3_PMDEC": rng.normal(0, 5, n).astype(np.float32),
        "AK_TARG": rng.uniform(0, 0.3, n).astype(np.float32), "J": rng.uniform(8, 12, n).astype(np.float32), "H": rng.uniform(7, 11, n).astype(np.float32),
        "K": rng.uniform(7, 11, n).astype(np.float32), "GAIAEDR3_PHOT_G_MEAN_MAG": rng.uniform(10, 14, n).astype(np.float32),
        "GAIAEDR3_PHOT_BP_MEAN_MAG": rng.uniform(10, 15, n).astype(np.float32),
        "GAIAEDR3_PHOT_RP_MEAN_MAG": rng.uniform(9, 13, n).astype(np.float32),
        "ASPCAPFLAG": np.zeros(n, np.int64), "ASPCAPFLAGS": np.full(n, "", dtype="U256"),
        "STARFLAG": np.zeros(n, np.int64), "STARFLAGS": np.full(n, "", dtype="U132"), "EXTRATARG": np.zeros(n, np.int32),
        "TEFF": teff.astype(np.float32), "TEFF_ERR": np.full(n, 10.0, np.float32),
        "LOGG": (5.5 - teff / 1500).astype(np.float32), "LOGG_ERR": np.full(n, 0.03, np.float32),
        "FE_H": rng.normal(-0.2, 0.3, n).astype(np.float32), "FE_H_ERR": np.full(n, 0.01, np.float32),
        "FE_H_FLAG": np.zeros(n, np.int32),
        "ALPHA_M": rng.normal(0.1, 0.1, n).astype(np.float32), "ALPHA_M_ERR": np.full(n, 0.01, np.float32),
        "MG_FE": rng.normal(0.1, 0.1, n).astype(np.float32), "MG_FE_ERR": np.full(n, 0.02, np.float32),
        "MG_FE_FLAG": np.zeros(n, np.int32),
    }
    return columns


def write_allstar(path, columns, drop=()):
    """Write an allStar-like FITS file (table in HDU 1), leaving out the columns in ``drop``."""
    cols = [fits.Column(name=name, array=values, format=_format(values))
            for name, values in columns.items() if name not in drop]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="allStar")]).writeto(path, overwrite=True)


def _format(values):
    if values.dtype.kind in "US":
        return f"{max(1, max(len(v) for v in values))}A"
    return {"f8": "D", "f4": "E", "i8": "K", "i4": "J"}[values.dtype.str[1:]]


def _lamost_header(obsid, ra, dec, redshift=-5.6e-05):
    header = fits.Header()
    header.update({"OBSID": obsid, "RA": ra, "DEC": dec, "SNRU": 3.0, "SNRG": 20.0, "SNRR": 40.0,
                   "SNRI": 50.0, "SNRZ": 35.0, "CLASS": "STAR", "Z": redshift, "VACUUM": True,
                   "DATA_V": "LAMOST DR10"})
    return header


def lamost_arrays(seed=0):
    """Flux, ivar, wavelength, and-mask of a made-up LAMOST spectrum (pixel 100 masked)."""
    rng = np.random.default_rng(seed)
    flux = 1000 * (1 + 0.1 * np.sin(LAMOST_WAVELENGTH / 50)) + rng.normal(0, 10, LAMOST_WAVELENGTH.size)
    andmask = np.zeros(LAMOST_WAVELENGTH.size)
    andmask[100] = 4
    return flux, np.full(LAMOST_WAVELENGTH.size, 0.01), LAMOST_WAVELENGTH.copy(), andmask


def write_lamost_dr10(path, obsid=1234, ra=138.0, dec=27.9, seed=0, redshift=-5.6e-05):
    """A LAMOST DR10-layout file: header + one-row COADD table (``redshift``: the header's Z)."""
    flux, ivar, wavelength, andmask = lamost_arrays(seed)
    arrays = {"FLUX": flux, "IVAR": ivar, "WAVELENGTH": wavelength, "ANDMASK": andmask,
              "ORMASK": andmask, "NORMALIZATION": np.ones_like(flux)}
    cols = [fits.Column(name=k, format=f"{v.size}E", array=v[None, :].astype(np.float32)) for k, v in arrays.items()]
    fits.HDUList([fits.PrimaryHDU(header=_lamost_header(obsid, ra, dec, redshift)),
                  fits.BinTableHDU.from_columns(cols, name="COADD")]).writeto(path, overwrite=True)


def write_lamost_image(path, obsid=1234, ra=138.0, dec=27.9, seed=0):
    """A LAMOST file in the layout of the early releases: a (5, n_pixels) primary image."""
    flux, ivar, wavelength, andmask = lamost_arrays(seed)
    image = np.vstack([flux, ivar, wavelength, andmask, andmask]).astype(np.float32)
    fits.PrimaryHDU(image, header=_lamost_header(obsid, ra, dec)).writeto(path, overwrite=True)


def _tuple_text(values):
    return "(" + ", ".join(f"{v:.8g}" for v in values) + ")"


def write_xp_continuous(path, source_ids, no_bp=(), no_coefficients=(), seed=0):
    """An archive ``xp_continuous_mean_spectrum`` CSV: 55 BP and 55 RP coefficients per source.

    Sources in ``no_bp`` lack the BP spectrum; those in ``no_coefficients`` lack both.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for source_id in source_ids:
        row = {"source_id": source_id, "solution_id": 4545469030156206080}
        for band, basis, scale in (("bp", 56, 5e4), ("rp", 57, 7e5)):
            absent = source_id in no_coefficients or (band == "bp" and source_id in no_bp)
            coefficients = scale * rng.uniform(0.8, 1.2) * 0.5 ** np.arange(55) * rng.choice([-1, 1], 55)
            coefficients[0] = abs(coefficients[0])
            row.update({
                f"{band}_basis_function_id": basis, f"{band}_n_parameters": None if absent else 55,
                f"{band}_standard_deviation": None if absent else 1.1,
                f"{band}_coefficients": None if absent else _tuple_text(coefficients),
                f"{band}_coefficient_errors": None if absent else _tuple_text(np.abs(coefficients) * 0.01 + 10),
                f"{band}_coefficient_correlations": None if absent else _tuple_text(np.zeros(55 * 54 // 2)),
                f"{band}_n_relevant_bases": None if absent else 50, f"{band}_relative_shrinking": None if absent else 1.0})
        rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)


def as_bulk_ecsv(table, path):
    """Write XP continuous or RVS rows (as DataLink's CSV has them) in the layout of the Gaia DR3 bulk files.

    ``XpContinuousMeanSpectrum_*.csv.gz``, ``RvsMeanSpectrum_*.csv.gz``: gzipped ECSV, ``#``
    header lines (the ECSV metadata), arrays written ``"[v1,v2,...]"``, missing values (cells and
    array elements) ``null``.
    """
    header = ["# %ECSV 1.0", "# ---", "# delimiter: ','", "# datatype:"]
    header += [f"# - {{name: {c}, datatype: {'string' if table[c].dtype == object else table[c].dtype}}}"
               for c in table.columns]
    header += ["# meta: !!omap", "# - {Gaia data release: DR3}", "# schema: astropy-2.0"]

    def cell(value):
        if isinstance(value, str) and value.startswith("("):
            return '"[' + ",".join(v.strip() or "null" for v in value.strip("()").split(",")) + ']"'
        return "null" if pd.isna(value) else str(value)

    lines = [",".join(table.columns)] + [",".join(cell(v) for v in row) for row in table.itertuples(index=False)]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(header + lines) + "\n")


def rvs_rows(source_ids, seed=0):
    """An RVS DataLink CSV table (arrays written in one cell, as the archive does)."""
    rng = np.random.default_rng(seed)
    rows = []
    for source_id in source_ids:
        flux = 1 - 0.4 * np.exp(-0.5 * ((np.arange(2401) - 1200) / 15.0) ** 2) + rng.normal(0, 0.01, 2401)
        flux[:20] = np.nan  # the blue edge is often empty
        rows.append({"source_id": source_id, "solution_id": 1, "ra": 10.0, "dec": -5.0,
                     "flux": "(" + ", ".join("" if np.isnan(v) else f"{v:.5f}" for v in flux) + ")",
                     "flux_error": "(" + ", ".join(["0.01"] * 2401) + ")"})
    return pd.DataFrame(rows)


def xp_template(tmp_path):
    """Sources whose coefficient correlations synthetic ones take: the real GaiaXPy rows when
    ../shared/fixtures is here, generated rows (uncorrelated coefficients) otherwise."""
    from conftest import SHARED_FIXTURES
    from labeltransfer.io.gaia_xp_bulk import read_xp_blocks

    real = SHARED_FIXTURES / "real" / "gaia_xp" / "XP_CONTINUOUS_RAW.csv"
    if not real.exists():
        real = tmp_path / "template.csv"
        write_xp_continuous(real, [1, 2], seed=9)
    return next(read_xp_blocks(real))


def write_bulk_chunk_of(path, spectra, source_ids, template, seed=0, missing_bp=()):
    """A bulk-layout XP chunk of sources made from sampled ``spectra`` (``labeltransfer.xp_synthetic``)."""
    from labeltransfer.xp_synthetic import synthetic_sources, write_bulk_chunk

    coefficients, errors, correlations = synthetic_sources(spectra.flux, spectra.flux_err, spectra.wavelength,
                                                           template, np.random.default_rng(seed))
    write_bulk_chunk(path, source_ids, coefficients, errors, correlations, missing_bp=missing_bp)


def write_survey_area(folder, n_chunks, per_chunk, template, seed=0, missing_bp_per_chunk=2):
    """A Gaia XP bulk-download folder: ``n_chunks`` chunks (``XpContinuousMeanSpectrum_<from>-<to>.csv.gz``)
    of sources made from synthetic stars' spectra as XP sources can have them (projected on the XP
    basis, divided by their median), and the ``_MD5SUM.txt`` manifest of the folder. Returns the
    chunk names in order."""
    import hashlib
    from pathlib import Path

    from labeltransfer.io.xp_library import XP_WAVELENGTH
    from labeltransfer.spectra import Spectra
    from labeltransfer.xp_basis import design_matrix
    from library_factory import synthetic_library

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    columns = synthetic_library(n_chunks * per_chunk, seed)
    design = design_matrix(XP_WAVELENGTH)
    flux = (design @ np.linalg.lstsq(design, columns["flux"].T.astype(float), rcond=1e-6)[0]).T
    median = np.median(flux, axis=1, keepdims=True)
    names, manifest = [], []
    for c in range(n_chunks):
        rows = slice(c * per_chunk, (c + 1) * per_chunk)
        # source_ids of HEALPix level-12 pixels spread over the sky, as a chunk's are (one level-8 range)
        ids = (np.arange(per_chunk, dtype=np.int64) * 97 + c * 5_000_000) * 2 ** 35 + 1
        name = f"XpContinuousMeanSpectrum_{c * 1000:06d}-{c * 1000 + 999:06d}.csv.gz"
        spectra = Spectra(flux[rows] / median[rows], columns["flux_error"][rows] / median[rows], XP_WAVELENGTH,
                          np.empty((per_chunk, 0)), ())
        write_bulk_chunk_of(folder / name, spectra, ids, template, seed=seed + c, missing_bp=ids[:missing_bp_per_chunk])
        names.append(name)
        manifest.append(f"{hashlib.md5((folder / name).read_bytes()).hexdigest()}  {name}")
    (folder / "_MD5SUM.txt").write_text("\n".join(manifest) + "\n")
    return names
