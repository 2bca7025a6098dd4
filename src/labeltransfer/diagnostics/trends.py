"""Residual trends at fixed labels: how each method's residuals depend on extinction, brightness and
sky position among stars of the same reference labels.

A straight line of residual against A_K would find a "trend" wherever a method's bias depends on
the labels and the quantity correlates with them (reddened stars are giants, faint stars cool
dwarfs). Here the labels are held fixed instead: each test star is put in a cell of its reference
labels (``CELL_EDGES``), the cell's median residual is subtracted (cells of fewer than ``min_stars``
stars are left out, and counted), and the remainder is binned by the quantity (``N_QUANTILE_BINS``
quantile bins of A_K and G, the same for every method; the fixed ``FIXED_BINS`` in Galactic l and
b). The median remainder of a bin is the partial dependence: how far the bin's stars sit from
stars of the same labels elsewhere, in label units. It is a departure at fixed labels, not a slope,
relative to the typical star of the same labels (every cell's remainders have median zero). What
the quantity shares with the labels cannot be told from a bias in the labels and is not counted: a
genuine dependence on A_K is seen through the differences in A_K between the stars of a cell.

Every bin median's 95% interval comes from a seeded bootstrap over the stars' remainders, the
cells' medians held at those of all the stars. (Recomputed from each resample, they pulled the
bootstrap's medians toward zero: by 20% in the lowest A_K bin of the default run's k-NN Teff, where
the medians held fixed stay centred on the estimate at much the same width; held fixed, 97.9% of
the intervals held zero where the truth was zero, in 280 bins of synthetic residuals.)

The table (:func:`residual_trends`) has one row per method, label, quantity and bin:

``method``, ``label``, ``quantity``
``bin``, ``lo``, ``hi``, ``centre``
    The bin's number (0 upward), range (in the quantity's unit: ``QUANTITIES``) and the median
    quantity of the test stars in it.
``n``, ``median``, ``median_lo95``, ``median_hi95``
    The method's stars in the bin (with a cell), their median remainder (label units) and its 95%
    interval; NaN where the bin holds fewer than ``min_stars``.
``n_left_out``
    The method's stars with a residual and the quantity that no cell held (a reference label
    missing or outside ``CELL_EDGES``, or a cell of fewer than ``min_stars``).
``departure``, ``departure_lo95``, ``departure_hi95``
    The summary, the same on every bin's row of a method, label and quantity: the bin median of
    the largest size (signed) and its interval.
``spread``
    The largest bin median minus the smallest.
``tolerance``
    ``TOLERANCE`` times the robust scatter of the method's residuals in the label (label units).
``trend``
    True where some bin's 95% interval lies wholly beyond +-``tolerance``: a departure at fixed
    labels larger than a tenth of the method's scatter, and not noise.
"""

import warnings

import numpy as np
import pandas as pd

from ..evaluation.metrics import robust_scatter

__all__ = ["QUANTITIES", "CELL_EDGES", "FIXED_BINS", "N_QUANTILE_BINS", "TOLERANCE", "trend_quantities",
           "label_cells", "quantity_bins", "grouped_medians", "residual_trends"]

#: The quantities against which residuals are examined, with their axis text.
QUANTITIES = {"a_k": r"$A_K$ [mag]", "g_mag": "G [mag]", "gal_l": "Galactic $l$ [deg]", "gal_b": "Galactic $b$ [deg]"}
#: Edges of the cells of reference labels: Teff in 250 K steps where most stars are (giants of
#: 4,000-5,000 K), logg splitting the upper giant branch, the red clump, the lower branch,
#: subgiants and dwarfs, [Fe/H] in four. Of the default sample's 3,554 validation stars 84% fall
#: in cells of at least 20 (60 cells); a synthetic residual that depends on their labels alone,
#: spread over 232 K between A_K bins and 214 K between Galactic b bins, keeps 6 K and 23 K once
#: the cells' medians are subtracted.
CELL_EDGES = {"teff": (3000, 3500, 3750, 4000, 4250, 4500, 4750, 5000, 5500, 6000, 7000),
              "logg": (-0.5, 1.5, 2.2, 2.8, 3.5, 4.2, 5.5),
              "fe_h": (-2.5, -1.0, -0.5, 0.0, 0.7)}
#: Quantities binned by their quantiles, into this many bins of equal numbers of stars.
N_QUANTILE_BINS = 7
#: Quantities binned at fixed edges (deg): Galactic l in 45 degree sectors (the centre at 0),
#: b finer near the plane.
FIXED_BINS = {"gal_l": tuple(range(-180, 181, 45)), "gal_b": (-90, -30, -15, -5, 0, 5, 15, 30, 90)}
#: A bin is a trend where its 95% interval lies beyond this fraction of the method's scatter.
TOLERANCE = 0.1
_COLUMNS = ["method", "label", "quantity", "bin", "lo", "hi", "centre", "n", "median", "median_lo95", "median_hi95",
            "n_left_out", "departure", "departure_lo95", "departure_hi95", "spread", "tolerance", "trend"]


def trend_quantities(sample, ids):
    """A_K, G, Galactic l (from -180 to 180 deg, the centre at 0) and b of the stars ``ids`` of a sample."""
    from astropy import units
    from astropy.coordinates import SkyCoord

    rows = sample.rows_of(ids)
    galactic = SkyCoord(ra=sample.ra[rows] * units.deg, dec=sample.dec[rows] * units.deg).galactic
    return pd.DataFrame({"a_k": sample.extinction_k[rows], "g_mag": sample.g_mag[rows],
                         "gal_l": galactic.l.wrap_at(180 * units.deg).deg, "gal_b": galactic.b.deg})


def label_cells(references, cell_edges=CELL_EDGES):
    """The cell of reference labels of every star: an integer, -1 where a label is missing or outside its edges.

    Parameters
    ----------
    references : pandas.DataFrame
        A ``<label>_ref`` column for every label of ``cell_edges``.
    cell_edges : dict of str to sequence of float
    """
    cell = np.zeros(len(references), dtype=int)
    outside = np.zeros(len(references), dtype=bool)
    for label, edges in cell_edges.items():
        values = references[f"{label}_ref"].to_numpy(dtype=float)
        outside |= ~((values >= edges[0]) & (values <= edges[-1]))
        cell = cell * (len(edges) - 1) + np.digitize(values, edges[1:-1])
    return np.where(outside, -1, cell)


def quantity_bins(values, quantity):
    """Edges of the bins of a quantity: ``FIXED_BINS`` or ``N_QUANTILE_BINS`` quantile bins of the finite ``values``."""
    if quantity in FIXED_BINS:
        return np.asarray(FIXED_BINS[quantity], dtype=float)
    finite = values[np.isfinite(values)]
    return np.unique(np.quantile(finite, np.linspace(0, 1, N_QUANTILE_BINS + 1))) if finite.size else np.empty(0)


def grouped_medians(values, groups, n_groups):
    """The median of ``values`` in each group, row by row (NaN for a group with no value in the row).

    Parameters
    ----------
    values : ndarray, shape (n_rows, n)
        Finite.
    groups : ndarray of int, shape (n_rows, n)
        The group of each value, from 0 to ``n_groups - 1``; any other number is in none.
    n_groups : int

    Returns
    -------
    ndarray, shape (n_rows, n_groups)
    """
    if values.shape[1] == 0:
        return np.full((len(values), n_groups), np.nan)
    groups = np.where((groups >= 0) & (groups < n_groups), groups, -1)
    span = 2 * np.abs(values).max() + 1  # a key that sorts by group, then by value
    ordered = np.take_along_axis(values, np.argsort(groups * span + values, axis=1), axis=1)
    slots = groups + 1 + (n_groups + 1) * np.arange(len(values))[:, None]  # slot 0 of a row: in no group
    counts = np.bincount(slots.ravel(), minlength=len(values) * (n_groups + 1))
    counts = counts.reshape(len(values), n_groups + 1)
    starts = (np.cumsum(counts, axis=1) - counts)[:, 1:]
    counts = counts[:, 1:]
    middle = [np.take_along_axis(ordered, np.minimum(starts + k, values.shape[1] - 1), axis=1)
              for k in ((counts - 1) // 2, counts // 2)]
    return np.where(counts > 0, 0.5 * (middle[0] + middle[1]), np.nan)


def _remainders(residual, cells):
    """Residuals less their cell's median."""
    medians = grouped_medians(residual[None, :], cells[None, :], cells.max(initial=-1) + 1)[0]
    return residual - medians[cells]


def _bin_numbers(x, edges):
    """The bin of every value (the last bin closed), -1 where NaN or outside the edges."""
    inside = np.isfinite(x) & (x >= edges[0]) & (x <= edges[-1])
    return np.where(inside, np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2), -1)


def _bin_ranges(x, bins, edges):
    """``bin``, ``lo``, ``hi`` and ``centre`` (the median value of the stars in the bin) of every bin."""
    centre = [np.median(x[bins == b]) if np.any(bins == b) else np.nan for b in range(len(edges) - 1)]
    return pd.DataFrame({"bin": np.arange(len(edges) - 1), "lo": edges[:-1], "hi": edges[1:], "centre": centre})


def _binned_departures(point, draws, bins, n_bins, min_stars):
    """Per bin: stars, median remainder and its 95% interval over the bootstrap's resamples.

    Parameters
    ----------
    point : ndarray, shape (n,)
        Every star's remainder.
    draws : ndarray of int, shape (n_resamples, n)
        The stars of each resample.
    bins : ndarray of int, shape (n,)
        Every star's bin (-1 in none).
    """
    n = np.bincount(bins[bins >= 0], minlength=n_bins)
    median = grouped_medians(point[None, :], bins[None, :], n_bins)[0]
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # a bin empty in every resample
        lo, hi = np.nanpercentile(grouped_medians(point[draws], bins[draws], n_bins), [2.5, 97.5], axis=0)
    small = n < min_stars
    return pd.DataFrame({"n": n, "median": np.where(small, np.nan, median),
                         "median_lo95": np.where(small, np.nan, lo), "median_hi95": np.where(small, np.nan, hi)})


def _kept_cells(cells, min_stars):
    """``cells`` renumbered 0 upward, -1 for a cell of fewer than ``min_stars``."""
    counts = np.bincount(cells[cells >= 0], minlength=1)
    kept = np.flatnonzero(counts >= min_stars)
    number = np.full(counts.size, -1)
    number[kept] = np.arange(kept.size)
    return np.where(cells >= 0, number[np.maximum(cells, 0)], -1)


def _summary(bins, tolerance):
    """The summary columns of one method, label and quantity (``departure`` ... ``trend``)."""
    measured = bins.dropna(subset=["median"])
    if measured.empty:
        return {"departure": np.nan, "departure_lo95": np.nan, "departure_hi95": np.nan, "spread": np.nan,
                "tolerance": tolerance, "trend": False}
    largest = measured.loc[measured["median"].abs().idxmax()]
    beyond = (measured["median_lo95"] > tolerance) | (measured["median_hi95"] < -tolerance)
    return {"departure": largest["median"], "departure_lo95": largest["median_lo95"],
            "departure_hi95": largest["median_hi95"], "spread": np.ptp(measured["median"]),
            "tolerance": tolerance, "trend": bool(beyond.any())}


def _label_departures(residual, cells, quantities, edges, n_resamples, rng, min_stars):
    """The bins of every quantity for one method's residuals in one label, with the summary columns."""
    kept = _kept_cells(np.where(np.isfinite(residual), cells, -1), min_stars)
    used = kept >= 0
    point = _remainders(residual[used], kept[used])
    draws = rng.integers(0, used.sum(), (n_resamples, used.sum()))
    tolerance = TOLERANCE * robust_scatter(residual[used])
    frames = []
    for quantity, quantity_edges in edges.items():
        x = quantities[quantity].to_numpy(dtype=float)
        bins = _bin_numbers(x, quantity_edges)
        frame = pd.concat([_bin_ranges(x, bins, quantity_edges),
                           _binned_departures(point, draws, bins[used], len(quantity_edges) - 1, min_stars)],
                          axis=1)
        left_out = np.isfinite(residual) & (bins >= 0) & ~used
        frame = frame.assign(quantity=quantity, n_left_out=int(np.count_nonzero(left_out)))
        frames.append(frame.assign(**_summary(frame, tolerance)))
    return pd.concat(frames)


def residual_trends(predictions, quantities, labels, cell_edges=CELL_EDGES, n_resamples=1000, seed=0, min_stars=20):
    """The partial dependence of every method's residuals on each quantity at fixed reference labels.

    Parameters
    ----------
    predictions : dict of str to pandas.DataFrame
        Each method's prediction table (``<label>`` and ``<label>_ref``, and ``<label>_ref`` of
        every label of ``cell_edges``), rows in the order of ``quantities``.
    quantities : pandas.DataFrame
        The columns of ``QUANTITIES`` for the same stars.
    labels : sequence of str
    cell_edges : dict of str to sequence of float
        The cells' edges in each reference label held fixed.
    n_resamples, seed : int
        The bootstrap's resamples and seed (each label draws from ``[seed, label index]``: a method's
        intervals do not depend on the other methods of the run).
    min_stars : int
        Cells and bins of fewer stars are left out.

    Returns
    -------
    pandas.DataFrame
        One row per method, label, quantity and bin: the columns of the module's docstring. A
        quantity with fewer than two distinct finite values has no bins, and no rows.
    """
    edges = {q: quantity_bins(quantities[q].to_numpy(dtype=float), q) for q in QUANTITIES}
    edges = {q: e for q, e in edges.items() if len(e) >= 2}
    rows = []
    for method, table in predictions.items():
        cells = label_cells(table, cell_edges)
        for k, label in enumerate(labels):
            residual = (table[label] - table[f"{label}_ref"]).to_numpy(dtype=float)
            departures = _label_departures(residual, cells, quantities, edges, n_resamples,
                                           np.random.default_rng([seed, k]), min_stars)
            rows.append(departures.assign(method=method, label=label))
    return pd.concat(rows, ignore_index=True)[_COLUMNS]
