"""Figures of the diagnostics that go beyond the test-set scatter: where and why the methods fail."""

import textwrap

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from .bound import bound_name
from .influence import SUBSETS
from .trends import TOLERANCE
from ..evaluation.plots import LABEL_TEXT, plain_log_ticks  # also the Agg backend and the figures' style

__all__ = ["snr_ladder", "learning_curve", "residual_trends", "information", "influence", "anomalies"]


def snr_ladder(table, magnitudes, labels):
    """Scatter per type of star (68% intervals), bias and calibration width against injected S/N.

    Parameters
    ----------
    table : pandas.DataFrame
        The ladder table: ``method``, ``level``, ``subset``, ``label``, ``scatter`` with
        ``scatter_lo68`` / ``scatter_hi68``, ``bias``, ``z_width``. The scatter is drawn for the
        subsets ``cool_giants``, ``warm_giants``, ``cool_dwarfs``, ``warm_dwarfs`` where the table
        has them (else ``giants`` and ``dwarfs``), one column each; bias and calibration over all.
    magnitudes : pandas.DataFrame
        ``g_mag`` and ``snr``: marked as the S/N of a typical star of that magnitude.
    labels : sequence of str
    """
    types = [s for s in ("cool_giants", "warm_giants", "cool_dwarfs", "warm_dwarfs") if s in set(table["subset"])]
    types = types or ["giants", "dwarfs"]
    columns = len(types) + 2
    fig, axes = plt.subplots(len(labels), columns, figsize=(3.2 * columns, 2.6 * len(labels)), squeeze=False,
                             sharex=True)
    methods = list(dict.fromkeys(table["method"]))
    colours = {m: f"C{i}" for i, m in enumerate(methods)}
    levels = np.sort(table["level"].unique())
    for row, label in zip(axes, labels):
        part = table[table["label"] == label]
        for method in methods:
            rows = part[part["method"] == method]
            for ax, subset in zip(row, types):
                line = rows[rows["subset"] == subset].sort_values("level")
                ax.plot(line["level"], line["scatter"], marker="o", ms=3, color=colours[method],
                        label=method if subset == types[0] else None)
                ax.fill_between(line["level"], line["scatter_lo68"], line["scatter_hi68"], color=colours[method],
                                alpha=0.15, lw=0)
            whole = rows[rows["subset"] == "all"].sort_values("level")
            row[-2].plot(whole["level"], whole["bias"], marker="o", ms=3, color=colours[method])
            row[-1].plot(whole["level"], whole["z_width"], marker="o", ms=3, color=colours[method])
        text = LABEL_TEXT.get(label, label)
        _share_scatter_axis(row[:len(types)], f"scatter {text}")
        row[-2].axhline(0, color="k", lw=0.8)
        row[-2].set(ylabel=f"bias {text}")
        row[-1].axhline(1, color="k", lw=0.8)
        row[-1].set(ylabel="width of residual / sigma")
        for ax in row:
            ax.set_xscale("log")
            ax.grid(alpha=0.3)
            for _, mark in magnitudes.dropna().iterrows():
                ax.axvline(mark["snr"], color="0.5", ls=":", lw=0.9)
    for ax in axes[-1]:
        ax.set_xlabel("injected S/N (median flux / flux error)")
        ax.set_xticks(levels, [f"{v:g}" for v in levels])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax in axes[0]:
        for _, mark in magnitudes.dropna().iterrows():
            ax.annotate(f"G={mark['g_mag']:g}", (mark["snr"], 0.98), xycoords=("data", "axes fraction"),
                        ha="right", va="top", rotation=90, fontsize=7, color="0.35")
    for ax, subset in zip(axes[0], types):
        ax.set_title(f"scatter: {subset.replace('_', ' ')}")
    axes[0, -2].set_title("bias, all stars")
    axes[0, -1].set_title("calibration, all stars (1: honest)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=len(methods), fontsize=8,
               frameon=False)
    return fig


def _share_scatter_axis(axes, ylabel):
    """One log scale for the scatter panels of a row (so that the types compare by eye); the label on the first."""
    for ax in axes:
        ax.set_yscale("log")
    limits = np.array([ax.get_ylim() for ax in axes])
    for ax in axes:
        ax.set_ylim(limits[:, 0].min(), limits[:, 1].max())
        plain_log_ticks(ax.yaxis)
    axes[0].set_ylabel(ylabel)


def learning_curve(table, labels):
    """Scatter of each label against the number of training stars, one line per method (all test
    stars, 68% bootstrap intervals shaded); the dotted level is 1.2 times the last point's scatter.

    ``table``: the learning-curve table (``method``, ``n_train``, ``subset``, ``label``,
    ``scatter``, ``scatter_lo68``, ``scatter_hi68``).
    """
    fig, axes = plt.subplots(1, len(labels), figsize=(3.6 * len(labels), 3.4), squeeze=False)
    whole = table[table["subset"] == "all"]
    for ax, label in zip(axes[0], labels):
        for i, (method, curve) in enumerate(whole[whole["label"] == label].groupby("method", sort=False)):
            curve = curve.sort_values("n_train")
            ax.plot(curve["n_train"], curve["scatter"], marker="o", ms=3, color=f"C{i}", label=method)
            ax.fill_between(curve["n_train"], curve["scatter_lo68"], curve["scatter_hi68"], color=f"C{i}",
                            alpha=0.15, lw=0)
            ax.axhline(1.2 * curve["scatter"].iloc[-1], color=f"C{i}", ls=":", lw=0.8)
        ax.set(xscale="log", yscale="log", xlabel="training stars", ylabel=f"scatter {LABEL_TEXT.get(label, label)}")
        plain_log_ticks(ax.yaxis)
        sizes = np.sort(whole["n_train"].unique())
        ax.set_xticks(sizes, [f"{v:,}" for v in sizes], rotation=45)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def residual_trends(trends, methods, labels, quantity_text):
    """Each method's partial dependence of each label's residual on each quantity at fixed labels: the
    median remainder per bin (at the bin's median quantity) with its 95% interval as a band, the
    marker filled where the interval lies beyond the method's tolerance.

    Parameters
    ----------
    trends : pandas.DataFrame
        From :func:`labeltransfer.diagnostics.trends.residual_trends`.
    methods, labels : sequence of str
        The lines' order and colours, and the rows.
    quantity_text : dict of str to str
        Axis text of each quantity (the columns).
    """
    fig, axes = plt.subplots(len(labels), len(quantity_text), figsize=(3.1 * len(quantity_text), 2.4 * len(labels)),
                             squeeze=False, sharex="col")
    for row, label in zip(axes, labels):
        for ax, (quantity, text) in zip(row, quantity_text.items()):
            for i, method in enumerate(methods):
                _partial_dependence(ax, trends[(trends["method"] == method) & (trends["label"] == label)
                                               & (trends["quantity"] == quantity)], f"C{i}")
            ax.axhline(0, color="k", lw=0.8)
            ax.grid(alpha=0.3)
        row[0].set_ylabel(f"residual at fixed labels\n{LABEL_TEXT.get(label, label)}")
    for ax, text in zip(axes[-1], quantity_text.values()):
        ax.set_xlabel(text)
    handles = [plt.Line2D([], [], color=f"C{i}", marker="o", ms=4) for i in range(len(methods))]
    handles.append(plt.Line2D([], [], color="grey", marker="o", ms=4, ls=""))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.legend(handles, [*methods, f"filled: 95% interval beyond {TOLERANCE:g} of the method's scatter"], loc="lower center",
               ncol=len(handles), fontsize=8, frameon=False)
    return fig


def _partial_dependence(ax, bins, colour):
    """One method's bins on ``ax``: the median line, its 95% band and the markers (filled beyond tolerance)."""
    beyond = (bins["median_lo95"] > bins["tolerance"]) | (bins["median_hi95"] < -bins["tolerance"])
    ax.fill_between(bins["centre"], bins["median_lo95"], bins["median_hi95"], color=colour, alpha=0.15, lw=0)
    ax.plot(bins["centre"], bins["median"], color=colour, lw=1)
    ax.plot(bins["centre"], bins["median"], ls="", marker="o", ms=3.5, color=colour, mfc="white")
    ax.plot(bins["centre"][beyond], bins["median"][beyond], ls="", marker="o", ms=3.5, color=colour)


def information(efficiency, pixels, labels, left_out):
    """Top: the efficiency (van Trees bound over root mean squared error, 95% intervals) of each method
    that reads the flux alone against S/N, the bound with the spectrum's and the ladder's noise (solid)
    and with the model's intrinsic scatter added (dashed); bottom: each pixel's share of a label's
    information, giants (solid) and dwarfs (dashed). The bound is named in the title; the methods
    left out, and why, below.

    Parameters
    ----------
    efficiency : pandas.DataFrame
        ``model``, ``prior``, ``noise``, ``method``, ``level``, ``label``, ``efficiency``,
        ``efficiency_lo``, ``efficiency_hi``.
    pixels : pandas.DataFrame
        ``wavelength`` and ``<giants|dwarfs>_<label>`` columns.
    labels : sequence of str
    left_out : dict of str to str
        Method -> why it is not compared.
    """
    noises = list(dict.fromkeys(efficiency["noise"]))
    methods = list(dict.fromkeys(efficiency["method"]))
    fig, axes = plt.subplots(2, len(labels), figsize=(3.8 * len(labels), 7.0), squeeze=False)
    for j, label in enumerate(labels):
        top, bottom = axes[0, j], axes[1, j]
        part = efficiency[efficiency["label"] == label]
        for i, method in enumerate(methods):
            for noise, style in zip(noises, ("-", "--")):
                rows = part[(part["method"] == method) & (part["noise"] == noise)].sort_values("level")
                top.plot(rows["level"], rows["efficiency"], style, marker="o", ms=3, color=f"C{i}",
                         label=method if style == "-" else None)
                top.fill_between(rows["level"], rows["efficiency_lo"], rows["efficiency_hi"], color=f"C{i}",
                                 alpha=0.12 if style == "-" else 0.06, lw=0)
        top.axhline(1, color="k", lw=0.8)
        top.set(xscale="log", yscale="log", xlabel="injected S/N",
                ylabel=f"bound / RMSE, {LABEL_TEXT.get(label, label)}")
        plain_log_ticks(top.yaxis)
        levels = np.sort(efficiency["level"].unique())
        top.set_xticks(levels, [f"{v:g}" for v in levels])
        top.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        top.grid(alpha=0.3)
        for subset, style in (("giants", "-"), ("dwarfs", "--")):
            if f"{subset}_{label}" in pixels:
                bottom.plot(pixels["wavelength"], pixels[f"{subset}_{label}"], style, lw=1, label=subset)
        bottom.set(xlabel="wavelength [nm]", ylabel=f"share of the information, {LABEL_TEXT.get(label, label)}")
        bottom.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    first = efficiency.iloc[0]
    fig.suptitle(textwrap.fill(f"Efficiency: {bound_name(first['model'], noises[0], first['prior'])}, over each "
                               "method's RMSE on the same stars (dashed: the model's intrinsic scatter added to the "
                               "noise; bands: 95% bootstrap intervals)", 170), fontsize=8)
    if left_out:
        fig.text(0.5, 0.01, textwrap.fill("Not compared: " + "; ".join(f"{m} ({why})" for m, why in left_out.items()),
                                          170), ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.04 if left_out else 0, 1, 0.94))
    return fig


def influence(curves, kinds, information, labels):
    """One panel per label (rows) and subset (columns): each method's share of its flux influence
    per pixel against wavelength, and the share of the information in The Cannon's model (black).

    Parameters
    ----------
    curves : dict of str to pandas.DataFrame
        Each method's ``wavelength`` and ``<subset>_<label>`` shares.
    kinds : dict of str to str
        Each method's influence kind, for the legend.
    information : pandas.DataFrame
        The information shares, same columns.
    labels : sequence of str
    """
    subsets = [s for s in SUBSETS if any(f"{s}_{label}" in information for label in labels)]
    fig, axes = plt.subplots(len(labels), len(subsets), figsize=(5.2 * len(subsets), 2.3 * len(labels)),
                             squeeze=False, sharex=True)
    for i, label in enumerate(labels):
        for j, subset in enumerate(subsets):
            ax, column = axes[i, j], f"{subset}_{label}"
            if column in information:
                ax.plot(information["wavelength"], information[column], color="k", lw=1.6,
                        label="information (Cannon model)")
            for n, (method, table) in enumerate(curves.items()):
                if column in table:
                    ax.plot(table["wavelength"], table[column], lw=0.9, color=f"C{n}",
                            label=f"{method} ({kinds[method]})")
            ax.set_ylabel(f"share, {LABEL_TEXT.get(label, label)}")
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(subset)
            if i == len(labels) - 1:
                ax.set_xlabel("wavelength [nm]")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def anomalies(spectra, stacked, label_text=LABEL_TEXT):
    """The worst-fitted test stars' spectra against The Cannon's model at their fitted labels, and
    the stacked normalised residual of giants and dwarfs (median, 16-84th percentiles shaded).

    Parameters
    ----------
    spectra : mapping
        The anomalies file: ``wavelength``, ``apogee_id``, ``flux``, ``flux_error``, ``model``,
        ``labels``, ``label_names``, ``reduced_chi2``.
    stacked : pandas.DataFrame
        ``wavelength`` and ``<giants|dwarfs>_<p16|median|p84>``.
    """
    n_top = len(spectra["apogee_id"])
    n_rows = (n_top + 1) // 2 + 1
    fig, axes = plt.subplots(n_rows, 2, figsize=(11, 2.0 * n_rows), squeeze=False)
    wavelength, names = spectra["wavelength"], [str(n) for n in spectra["label_names"]]
    for i in range(n_top):
        ax = axes[i // 2, i % 2]
        usable = np.isfinite(spectra["flux_error"][i])
        ax.plot(wavelength[usable], spectra["flux"][i][usable], color="k", lw=0.8, label="flux")
        ax.plot(wavelength, spectra["model"][i], color="C3", lw=0.8, label="model")
        text = ", ".join(f"{n} {v:.3g}" for n, v in zip(names, spectra["labels"][i]))
        ax.set_title(f"{spectra['apogee_id'][i]}: reduced chi2 {spectra['reduced_chi2'][i]:.1f}\n{text}", fontsize=7)
        ax.tick_params(labelsize=7)
    for j in range(n_top, 2 * (n_rows - 1)):
        axes[j // 2, j % 2].set_axis_off()
    axes[0, 0].legend(fontsize=7)
    bottom = fig.add_subplot(n_rows, 1, n_rows)
    for ax in axes[-1]:
        ax.set_axis_off()
    for subset, colour in (("giants", "C0"), ("dwarfs", "C1")):
        if f"{subset}_median" in stacked:
            bottom.plot(stacked["wavelength"], stacked[f"{subset}_median"], color=colour, lw=1, label=subset)
            bottom.fill_between(stacked["wavelength"], stacked[f"{subset}_p16"], stacked[f"{subset}_p84"],
                                color=colour, alpha=0.2, lw=0)
    bottom.axhline(0, color="k", lw=0.8)
    bottom.set(xlabel="wavelength [nm]", ylabel="(flux - model) / sigma")
    bottom.legend(fontsize=7)
    fig.tight_layout()
    return fig
