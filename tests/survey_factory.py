"""Small generated survey files in the real formats (for tests that must run without ../shared).

Column names, HDU layout and header keywords follow the real APOGEE DR17 allStar catalogue
and LAMOST low-resolution spectra (see ``../shared/fixtures/real``), and the Gaia DR3 XP and RVS
files as the archive writes them: DataLink's CSV (the 26 columns of an XP continuous row) and the
bulk download's gzipped ECSV chunks (their long YAML header, ``[...]`` arrays, ``null`` cells), in a
folder with the ``_MD5SUM.txt`` manifest that also lists ``_citation.txt`` and ``_disclaimer.txt``;
the values are made up.
"""

import gzip
import re

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


#: The columns of an XP continuous row as the archive writes them (DataLink CSV and bulk chunks: 26),
#: each with its ECSV datatype (and subtype), description and UCD, as the real headers describe them
#: (GaiaXPy's tests/files/xp_continuous/*.ecsv, the archive's ECSV).
_BAND_COLUMNS = {
    "basis_function_id": ("int16", None, "Identifier defining the set of basis functions for the {B} spectrum "
                                         "representation", "meta.id"),
    "degrees_of_freedom": ("int16", None, "Degrees of freedom for the {B} spectrum representation", "stat.fit.dof"),
    "n_parameters": ("int16", None, "Number of parameters for the {B} spectrum representation", "stat.fit.param"),
    "n_measurements": ("int16", None, "Number of measurements used for the {B} spectrum generation", "meta.number"),
    "n_rejected_measurements": ("int16", None, "Number of rejected measurements in the {B} spectrum generation",
                                "meta.number"),
    "standard_deviation": ("float32", None, "Standard deviation for the {B} spectrum representation", "stat.stdev"),
    "chi_squared": ("float32", None, "Chi squared for the {B} spectrum representation", "stat.fit.chi2"),
    "coefficients": ("string", "float64[null]", "Basis function coefficients for the {B} spectrum representation",
                     "stat.fit.param"),
    "coefficient_errors": ("string", "float32[null]", "Basis function coefficient errors for the {B} spectrum "
                                                      "representation", "stat.error"),
    "coefficient_correlations": ("string", "float32[null]", "Correlation matrix for {B} coefficients",
                                 "stat.correlation"),
    "n_relevant_bases": ("int16", None, "Number of bases that are relevant for the representation of this mean {B} "
                                        "spectrum", "meta.number"),
    "relative_shrinking": ("float32", None, "Measure of the relative shrinking of the coefficient vector when "
                                            "truncation is applied for the mean {B} spectrum", "stat.fit.param"),
}
_COLUMN_HEADERS = {
    "source_id": ("int64", None, "Unique source identifier (unique within a particular Data Release)",
                  "meta.id;meta.main", None),
    "solution_id": ("int64", None, "Solution Identifier", "meta.version", None),
    **{f"{band}_{name}": (datatype, subtype, description.format(B=band.upper()), ucd, None)
       for band in ("bp", "rp") for name, (datatype, subtype, description, ucd) in _BAND_COLUMNS.items()},
    "ra": ("float64", None, "Right ascension", "pos.eq.ra;meta.main", "deg"),
    "dec": ("float64", None, "Declination", "pos.eq.dec;meta.main", "deg"),
    "flux": ("string", "float32[null]", "Mean RVS spectrum flux (normalised to the pseudo-continuum)", "phot.flux",
             None),
    "flux_error": ("string", "float32[null]", "Uncertainty on the mean RVS spectrum flux", "stat.error;phot.flux",
                   None),
}


def _array_text(values, brackets="()", separator=", "):
    """An array cell as the archive writes it: shortest digits, Java's exponents (``5.273979E-4``)."""
    text = separator.join(f"{v:.9g}" for v in values)
    text = re.sub(r"e([-+])0*(\d+)", lambda m: "E" + m[1].replace("+", "") + m[2], text)
    return brackets[0] + text.replace("nan", "") + brackets[1]


def xp_rows(source_ids, coefficients, errors, correlations, missing_bp=()):
    """XP continuous rows with the archive's 26 columns, arrays in DataLink's ``"(v1, v2, ...)"``; a
    band whose first coefficient is NaN, or BP for the sources in ``missing_bp``, absent (null cells)."""
    rows = []
    for i, source_id in enumerate(np.asarray(source_ids, dtype=np.int64)):
        row = {"source_id": source_id, "solution_id": 4545469030156206080}
        for b, band in enumerate(("bp", "rp")):
            absent = np.isnan(coefficients[i, b, 0]) or (band == "bp" and source_id in set(missing_bp))
            cells = dict(basis_function_id=56 + b, degrees_of_freedom=2320 + 100 * b, n_parameters=55,
                         n_measurements=2375 + 100 * b, n_rejected_measurements=11, standard_deviation=1.05,
                         chi_squared=2547.7, coefficients=_array_text(coefficients[i, b]),
                         coefficient_errors=_array_text(errors[i, b]),
                         coefficient_correlations=_array_text(correlations[i, b]), n_relevant_bases=50,
                         relative_shrinking=1.0)
            row.update({f"{band}_{name}": None if absent else value for name, value in cells.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    integers = [c for c in table.columns if _COLUMN_HEADERS[c][0].startswith("int")]
    return table.astype(dict.fromkeys(integers, "Int64"))


def write_xp_continuous(path, source_ids, no_bp=(), no_coefficients=(), seed=0):
    """An archive ``xp_continuous_mean_spectrum`` CSV (DataLink's RAW layout, its 26 columns): 55 BP
    and 55 RP coefficients per source, uncorrelated.

    Sources in ``no_bp`` lack the BP spectrum; those in ``no_coefficients`` lack both.
    """
    rng = np.random.default_rng(seed)
    n = len(source_ids)
    coefficients = np.empty((n, 2, 55))
    for i, source_id in enumerate(source_ids):
        for b, scale in enumerate((5e4, 7e5)):
            coefficients[i, b] = scale * rng.uniform(0.8, 1.2) * 0.5 ** np.arange(55) * rng.choice([-1, 1], 55)
            coefficients[i, b, 0] = abs(coefficients[i, b, 0])
            if source_id in no_coefficients or (b == 0 and source_id in no_bp):
                coefficients[i, b, 0] = np.nan
    xp_rows(source_ids, coefficients, np.abs(coefficients) * 0.01 + 10, np.zeros((n, 2, 55 * 54 // 2))
            ).to_csv(path, index=False)


def _column_header(table, column):
    """(datatype, subtype, description, UCD, unit) of a column: the archive's, else its pandas type's."""
    if column in _COLUMN_HEADERS:
        return _COLUMN_HEADERS[column]
    kind = table[column].dtype
    return ("string" if kind == object or pd.api.types.is_string_dtype(kind) else str(kind).lower(), None, column,
            "meta.code", None)


def _ecsv_header(table):
    """The long YAML header of a Gaia DR3 bulk file: every column with its datatype, description and UCD."""
    lines = ["%ECSV 1.0", "---", "delimiter: ','", "datatype:"]
    for column in table.columns:
        datatype, subtype, description, ucd, unit = _column_header(table, column)
        lines += ["-", f"  name: {column}", f"  datatype: {datatype}"]
        lines += [f"  subtype: '{subtype}'"] if subtype else []
        lines += [f"  unit: {unit}"] if unit else []
        lines += [f"  description: {description}", "  meta:", f"    ucd: {ucd}"]
    lines += ["meta: !!omap", "- {Gaia data release: Gaia DR3}", "- {producer: Gaia DPAC (bulk download)}",
              "schema: astropy-2.0"]
    return ["# " + line for line in lines]


def as_bulk_ecsv(table, path):
    """Write XP continuous or RVS rows (as DataLink's CSV has them) in the layout of the Gaia DR3 bulk files.

    ``XpContinuousMeanSpectrum_*.csv.gz``, ``RvsMeanSpectrum_*.csv.gz``: gzipped ECSV, a long YAML
    header (``#`` lines: every column's datatype, description and UCD, and the table's meta), arrays
    written ``"[v1,v2,...]"``, missing values (cells and array elements) ``null``, whole numbers as
    such (DataLink's CSV read by pandas has them as floats where a band is missing).
    """
    def cell(value, datatype):
        if isinstance(value, str) and value.startswith("("):
            return '"[' + ",".join(v.strip() or "null" for v in value.strip("()").split(",")) + ']"'
        if pd.isna(value):
            return "null"
        return str(int(value)) if datatype.startswith("int") else str(value)

    types = [_column_header(table, c)[0] for c in table.columns]
    lines = [",".join(table.columns)] + [",".join(cell(v, t) for v, t in zip(row, types))
                                         for row in table.itertuples(index=False)]
    with gzip.open(path, "wt", compresslevel=1) as handle:  # fast: the tests' chunks are written often
        handle.write("\n".join(_ecsv_header(table) + lines) + "\n")


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
    from labeltransfer.xp.bulk import read_xp_blocks

    real = SHARED_FIXTURES / "real" / "gaia_xp" / "XP_CONTINUOUS_RAW.csv"
    if not real.exists():
        real = tmp_path / "template.csv"
        write_xp_continuous(real, [1, 2], seed=9)
    return next(read_xp_blocks(real))


def write_bulk_chunk_of(path, spectra, source_ids, template, seed=0, missing_bp=()):
    """A bulk-layout XP chunk (:func:`as_bulk_ecsv`, the archive's 26 columns) of sources made from
    sampled ``spectra`` (``labeltransfer.xp.synthetic``)."""
    from labeltransfer.xp.synthetic import synthetic_sources

    coefficients, errors, correlations = synthetic_sources(spectra.flux, spectra.flux_error, spectra.wavelength,
                                                           template, np.random.default_rng(seed))
    as_bulk_ecsv(xp_rows(source_ids, coefficients, errors, correlations, missing_bp), path)


#: The files a Gaia bulk-download folder's manifest lists beside the chunks.
AREA_NOTES = {"_citation.txt": "Gaia Collaboration, Vallenari et al. (2023), A&A 674, A1\n",
              "_disclaimer.txt": "Gaia DR3 data are provided as they are, see the Gaia archive's terms of use\n"}


def write_survey_area(folder, n_chunks, per_chunk, template, seed=0, missing_bp_per_chunk=2):
    """A Gaia XP bulk-download folder: ``n_chunks`` chunks (``XpContinuousMeanSpectrum_<from>-<to>.csv.gz``)
    of sources made from synthetic stars' spectra as XP sources can have them (projected on the XP
    basis, divided by their median), the folder's ``_citation.txt`` and ``_disclaimer.txt``, and its
    ``_MD5SUM.txt`` manifest listing them all, as the archive's does. Returns the chunk names in order."""
    import hashlib
    from pathlib import Path

    from labeltransfer.xp.library import XP_WAVELENGTH
    from labeltransfer.data.spectra import Spectra
    from labeltransfer.xp.basis import design_matrix
    from library_factory import synthetic_library

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    columns = synthetic_library(n_chunks * per_chunk, seed)
    design = design_matrix(XP_WAVELENGTH)
    flux = (design @ np.linalg.lstsq(design, columns["flux"].T.astype(float), rcond=1e-6)[0]).T
    median = np.median(flux, axis=1, keepdims=True)
    names = []
    for c in range(n_chunks):
        rows = slice(c * per_chunk, (c + 1) * per_chunk)
        # source_ids of HEALPix level-12 pixels spread over the sky, as a chunk's are (one level-8 range)
        ids = (np.arange(per_chunk, dtype=np.int64) * 97 + c * 5_000_000) * 2 ** 35 + 1
        name = f"XpContinuousMeanSpectrum_{c * 1000:06d}-{c * 1000 + 999:06d}.csv.gz"
        spectra = Spectra(flux[rows] / median[rows], columns["flux_error"][rows] / median[rows], XP_WAVELENGTH,
                          np.empty((per_chunk, 0)), ())
        write_bulk_chunk_of(folder / name, spectra, ids, template, seed=seed + c, missing_bp=ids[:missing_bp_per_chunk])
        names.append(name)
    for name, text in AREA_NOTES.items():
        (folder / name).write_text(text)
    (folder / "_MD5SUM.txt").write_text("".join(f"{hashlib.md5((folder / name).read_bytes()).hexdigest()}  {name}\n"
                                                for name in sorted([*names, *AREA_NOTES])))
    return names
