"""Validation figures: one function per figure, each taking tables and returning a Figure."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import special  # noqa: E402

from .metrics import (MIN_SUBSET_STARS, fraction_beyond, label_metrics, robust_scatter, snr_bin_masks,  # noqa: E402
                      widths_within)

__all__ = ["LABEL_TEXT", "one_to_one", "scatter_vs_snr", "kiel_diagram", "alpha_iron",
           "calibration", "calibration_per_bin", "ensemble_calibration", "separation_histogram", "costs",
           "loss_curves", "save", "plain_log_ticks"]

#: Axis text (with units) of the labels.
LABEL_TEXT = {"teff": r"$T_\mathrm{eff}$ [K]", "logg": r"$\log g$ [dex]",
              "fe_h": "[Fe/H] [dex]", "alpha_m": r"[$\alpha$/M] [dex]", "mg_fe": "[Mg/Fe] [dex]"}
_FORMAT = {"teff": "{:.0f} K"}

# text.usetex off: our text is mathtext (gaiaxpy's plotter, for one, turns LaTeX on when imported)
plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "figure.dpi": 110,
                     "savefig.dpi": 130, "savefig.bbox": "tight", "text.usetex": False})


def _text(label):
    return LABEL_TEXT.get(label, label)


def _value(label, value):
    return _FORMAT.get(label, "{:.3f} dex").format(value)


def plain_log_ticks(axis, text="{:g}"):
    """Label the log-scaled ``axis`` in plain numbers (``text``) at 1, 2 and 5 times the powers of
    ten and leave its other ticks bare: matplotlib's own labels (3x10^3, 4x10^3, ... where an axis
    spans little more than a decade) run into one another."""
    def label(value, _position):
        mantissa = value / 10.0 ** np.floor(np.log10(value) + 1e-9)
        return text.format(value) if np.isclose(mantissa, (1, 2, 5), rtol=1e-6).any() else ""

    formatter = matplotlib.ticker.FuncFormatter(label)
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(formatter)


def one_to_one(table, method, labels):
    """Predicted against reference label, with residuals below and the metrics printed.

    ``table`` holds ``<label>`` and ``<label>_ref`` columns of the test set.
    """
    fig, axes = plt.subplots(2, len(labels), figsize=(3.6 * len(labels), 5.6),
                             gridspec_kw={"height_ratios": [3, 1.3]}, squeeze=False)
    for j, label in enumerate(labels):
        ref, pred = table[f"{label}_ref"].to_numpy(), table[label].to_numpy()
        good = np.isfinite(ref) & np.isfinite(pred)
        ref, pred = ref[good], pred[good]
        m = label_metrics(pred, ref, np.ones_like(pred))
        lo, hi = np.percentile(np.r_[ref, pred], [0.2, 99.8]) if ref.size else (0, 1)
        top, bottom = axes[0, j], axes[1, j]
        top.hexbin(ref, pred, gridsize=60, extent=(lo, hi, lo, hi), bins="log", cmap="viridis",
                   mincnt=1)
        top.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        top.set(xlim=(lo, hi), ylim=(lo, hi), ylabel=f"{method} {_text(label)}")
        top.text(0.04, 0.96, f"bias {_value(label, m['bias'])}\nscatter {_value(label, m['scatter'])}"
                 f"\noutliers {100 * m['outlier_frac']:.1f}%\nN = {m['n']}", transform=top.transAxes,
                 va="top", fontsize=8.5, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
        top.tick_params(labelbottom=False)
        resid = pred - ref
        span = 5 * m["scatter"] if np.isfinite(m["scatter"]) and m["scatter"] > 0 else 1.0
        bottom.hexbin(ref, resid, gridsize=(60, 20), extent=(lo, hi, -span, span), bins="log",
                      cmap="viridis", mincnt=1)
        bottom.axhline(0, color="k", lw=0.8)
        bottom.set(xlim=(lo, hi), ylim=(-span, span), xlabel=f"APOGEE DR17 {_text(label)}",
                   ylabel=r"$\Delta$ (pred $-$ ref)")
    fig.suptitle(f"{method}: test set")
    fig.tight_layout()
    return fig


def _snr_edges(subsets):
    """(lo, hi) of S/N bins named ``snr_<lo>-<hi>``, shape (n_bins, 2)."""
    return np.array([s.removeprefix("snr_").split("-") for s in subsets], dtype=float)


def _snr_centres(subsets):
    """Plotting positions of S/N bins named ``snr_<lo>-<hi>`` (geometric centres; 1.5 lo for the open bin)."""
    bins = _snr_edges(subsets)
    return np.where(np.isfinite(bins[:, 1]), np.sqrt(bins[:, 0].clip(1) * bins[:, 1]), bins[:, 0] * 1.5)


def _interval(rows, name="scatter"):
    """Error-bar lengths (below, above) of the 68% interval of ``name``."""
    return np.vstack([rows[name] - rows[f"{name}_lo68"], rows[f"{name}_hi68"] - rows[name]]).clip(0)


def scatter_vs_snr(summary, labels):
    """Robust scatter of each label in S/N bins, one line per method, with 68% bootstrap intervals."""
    fig, axes = plt.subplots(1, len(labels), figsize=(3.6 * len(labels), 3.4), squeeze=False)
    rows = summary[summary["subset"].str.startswith("snr_")]
    edges = np.unique(_snr_edges(rows["subset"]))
    finite = edges[np.isfinite(edges) & (edges > 0)]
    methods = list(dict.fromkeys(rows["method"]))
    for ax, label in zip(axes[0], labels):
        for i, (method, part) in enumerate(rows[rows["label"] == label].groupby("method", sort=False)):
            nudge = 1.04 ** (i - (len(methods) - 1) / 2)  # methods side by side within a bin
            ax.errorbar(_snr_centres(part["subset"]) * nudge, part["scatter"], yerr=_interval(part), marker="o",
                        ms=4, capsize=2, label=method)
        ax.set(xscale="log", xlabel="XP S/N (median flux / flux error)",
               ylabel=f"robust scatter {_text(label)}", ylim=(0, None))
        ax.set_xticks(finite, [f"{e:g}" for e in finite])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _panels(n):
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n, 3.5), sharex=True, sharey=True, squeeze=False)
    return fig, axes[0]


def kiel_diagram(reference, predictions):
    """Teff-logg coloured by [Fe/H]: the reference labels beside each method's."""
    fig, axes = _panels(1 + len(predictions))
    panels = [("APOGEE DR17", reference["teff_ref"], reference["logg_ref"], reference["fe_h_ref"])]
    panels += [(m, t["teff"], t["logg"], t["fe_h"]) for m, t in predictions.items()]
    for ax, (title, teff, logg, feh) in zip(axes, panels):
        order = np.argsort(np.nan_to_num(feh.to_numpy(), nan=-9))
        im = ax.scatter(teff.to_numpy()[order], logg.to_numpy()[order], c=feh.to_numpy()[order],
                        s=1.5, cmap="plasma", vmin=-1.5, vmax=0.4, rasterized=True)
        ax.set(title=title, xlabel=_text("teff"))
    axes[0].set_ylabel(_text("logg"))
    axes[0].set_xlim(7100, 3000)
    axes[0].set_ylim(5.6, -0.6)
    fig.colorbar(im, ax=list(axes), label=_text("fe_h"), pad=0.01)
    return fig


def alpha_iron(reference, predictions):
    """Density of [alpha/M] against [Fe/H]: the reference labels beside each method's."""
    fig, axes = _panels(1 + len(predictions))
    panels = [("APOGEE DR17", reference["fe_h_ref"], reference["alpha_m_ref"])]
    panels += [(m, t["fe_h"], t["alpha_m"]) for m, t in predictions.items()]
    for ax, (title, feh, alpha) in zip(axes, panels):
        good = np.isfinite(feh) & np.isfinite(alpha)
        ax.hist2d(feh[good], alpha[good], bins=(80, 60), range=((-2.0, 0.6), (-0.2, 0.45)),
                  cmap="Greys", norm=matplotlib.colors.LogNorm(), rasterized=True)
        ax.set(title=title, xlabel=_text("fe_h"))
    axes[0].set_ylabel(_text("alpha_m"))
    fig.tight_layout()
    return fig


def calibration(predictions, labels):
    """Residual / predicted sigma per label and method: its histogram against N(0, 1) (top) and the
    coverage, the fraction of stars within k sigma, against a Gaussian's (bottom; dots at k = 1, 2, 3)."""
    fig, axes = plt.subplots(2, len(labels), figsize=(3.6 * len(labels), 6.4), squeeze=False)
    grid = np.linspace(-5, 5, 201)
    k = np.linspace(0, 3.5, 141)
    for i, label in enumerate(labels):
        histogram, coverage = axes[0, i], axes[1, i]
        for j, (method, table) in enumerate(predictions.items()):
            predicted = np.isfinite(table[label]) & np.isfinite(table[f"{label}_ref"])
            sigma = table[f"{label}_err"][predicted].to_numpy()
            z = (table[label] - table[f"{label}_ref"])[predicted].to_numpy() / np.where(sigma > 0, sigma, np.nan)
            z = np.where(np.isfinite(z), z, np.inf)  # no usable sigma: outside every interval, as in the summary
            finite = z[np.isfinite(z)]
            histogram.hist(finite.clip(-5, 5), bins=60, range=(-5, 5), density=True, histtype="step",
                           color=f"C{j}", label=f"{method} (width {robust_scatter(finite):.2f})")
            within = (np.abs(z)[:, None] < k).mean(axis=0) if z.size else np.full(k.size, np.nan)
            dots = [np.mean(np.abs(z) < m) for m in (1, 2, 3)] if z.size else [np.nan] * 3
            coverage.plot(k, within, color=f"C{j}", lw=1)
            coverage.plot([1, 2, 3], dots, "o", color=f"C{j}", ms=3.5,
                          label=f"{method}: " + " / ".join(f"{100 * d:.0f}" for d in dots) + "%")
        histogram.plot(grid, np.exp(-0.5 * grid ** 2) / np.sqrt(2 * np.pi), color="k", ls="--", lw=0.8,
                       label="N(0, 1)")
        name = _text(label).split(" [")[0]
        histogram.set(xlabel=rf"(pred $-$ ref) / $\sigma_\mathrm{{pred}}$, {name}", ylabel="density")
        histogram.set_ylim(0, 1.8 * histogram.get_ylim()[1])  # room for the legend above the peaks
        histogram.legend(fontsize=6.5, loc="upper left", framealpha=0.7)
        coverage.plot(k, special.erf(k / np.sqrt(2)), color="k", ls="--", lw=0.8, label="Gaussian: 68 / 95 / 100%")
        coverage.set(xlabel=rf"k, {name}", ylabel=r"fraction with |pred $-$ ref| < k $\sigma_\mathrm{pred}$",
                     xlim=(0, 3.5), ylim=(0, 1.02))
        coverage.grid(alpha=0.3)
        coverage.legend(fontsize=6.5, loc="lower right", title="within 1 / 2 / 3 $\\sigma$", title_fontsize=6.5)
    fig.tight_layout()
    return fig


#: The binnings of :func:`calibration_per_bin`: subset prefix -> axis text.
_BINNINGS = {"snr": "XP S/N (median flux / flux error)", "teff": r"APOGEE DR17 $T_\mathrm{eff}$ [K]"}
#: Marker of the coverage within 1 and within 2 sigma (:func:`calibration_per_bin`).
_COVERAGE_MARKERS = {1: "o", 2: "s"}


def calibration_per_bin(summary, labels, windows):
    """Coverage within 1 and 2 predicted sigma per bin of S/N (top row) and of reference Teff (bottom
    row), one column per label, one colour per method, with binomial 1-sigma error bars.

    Parameters
    ----------
    summary : pandas.DataFrame
        The summary table (:func:`labeltransfer.evaluation.summary.summarise`): ``method``, ``label``,
        ``subset`` (bins named ``snr_<lo>-<hi>`` and ``teff_<lo>-<hi>``), ``n``, ``cover_1``, ``cover_2``.
    labels : sequence of str
    windows : dict
        k (1, 2) -> (low, high): the fractions within k sigma that count as calibrated, shaded.

    Bins of fewer than ``MIN_SUBSET_STARS`` stars are left out; a binning without bins in the table
    (no Teff label) has no row.
    """
    binnings = [prefix for prefix in _BINNINGS if summary["subset"].str.startswith(f"{prefix}_").any()]
    methods = list(dict.fromkeys(summary["method"]))
    fig, axes = plt.subplots(len(binnings), len(labels), figsize=(3.4 * len(labels), 3.2 * len(binnings) + 0.5),
                             squeeze=False, sharey=True, layout="constrained")
    for row, prefix in zip(axes, binnings):
        bins = [s for s in dict.fromkeys(summary["subset"]) if s.startswith(f"{prefix}_")]
        for ax, label in zip(row, labels):
            for k, (low, high) in windows.items():
                ax.axhspan(100 * low, 100 * high, color="0.88", zorder=0)
                ax.axhline(100 * special.erf(k / np.sqrt(2)), color="k", ls="--", lw=0.6, zorder=0)
            for j, method in enumerate(methods):
                part = summary[(summary["method"] == method) & (summary["label"] == label)].set_index("subset")
                part = part.reindex(bins)
                shown = (part["n"] >= MIN_SUBSET_STARS).to_numpy()
                x = np.arange(len(bins)) + 0.6 * (j - (len(methods) - 1) / 2) / max(len(methods), 2)
                for k, marker in _COVERAGE_MARKERS.items():
                    cover = part[f"cover_{k}"].to_numpy(dtype=float)
                    error = np.sqrt(cover * (1 - cover) / part["n"].to_numpy(dtype=float))
                    ax.errorbar(x[shown], 100 * cover[shown], yerr=100 * error[shown], fmt=marker, ms=4, capsize=1.5,
                                color=f"C{j}", mfc=f"C{j}" if k == 1 else "white", lw=0.8)
            ax.set_xticks(np.arange(len(bins)), [_bin_text(s, prefix) for s in bins], fontsize=7,
                          rotation=30 if prefix == "teff" else 0)
            ax.set(xlabel=_BINNINGS[prefix], xlim=(-0.6, len(bins) - 0.4), title=_text(label).split(" [")[0])
            ax.grid(alpha=0.3, axis="y")
        row[0].set_ylabel(r"stars within k $\sigma_\mathrm{pred}$ [%]")
    handles = [matplotlib.lines.Line2D([], [], color=f"C{j}", marker="o", ls="", label=m) for j, m in enumerate(methods)]
    handles += [matplotlib.lines.Line2D([], [], color="k", marker=marker, mfc="k" if k == 1 else "white", ls="",
                                        label=f"within {k} $\\sigma$") for k, marker in _COVERAGE_MARKERS.items()]
    handles.append(matplotlib.patches.Patch(color="0.88", label=" and ".join(
        f"{100 * low:.0f}-{100 * high:.0f}%" for low, high in windows.values()) + " (dashed: Gaussian)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 10), fontsize=8, frameon=False,
               handletextpad=0.2, columnspacing=1.2)
    return fig


def _bin_text(subset, prefix):
    """Tick text of a bin named ``<prefix>_<lo>-<hi>``: ``lo-hi``, or ``>= lo`` for the open bin."""
    lo, hi = subset.removeprefix(f"{prefix}_").split("-")
    return f"$\\geq${lo}" if hi == "inf" else f"{lo}-{hi}"


def ensemble_calibration(z, snr, snr_bins, labels, method):
    """Tails of residual / sigma (top) and its robust width per S/N bin (bottom), per label.

    Parameters
    ----------
    z : dict
        Model name -> array (n_stars, n_labels) of (predicted - reference) / sigma.
    snr : ndarray, shape (n_stars,)
    snr_bins : sequence of float
        Edges of the S/N bins.
    labels : sequence of str
    method : str
        Title of the figure.
    """
    k = np.linspace(0, 8, 161)
    gaussian = special.erfc(k / np.sqrt(2))
    in_bin = snr_bin_masks(snr, snr_bins)
    widths_of = {name: np.array(list(widths_within(values, in_bin).values())) for name, values in z.items()}
    beyond_3 = {name: fraction_beyond(values) for name, values in z.items()}
    ticks = [f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">{lo:g}" for lo, hi in zip(snr_bins[:-1], snr_bins[1:])]
    fig, axes = plt.subplots(2, len(labels), figsize=(3.4 * len(labels), 6.2), squeeze=False, sharey="row")
    for i, label in enumerate(labels):
        tails, widths = axes[0][i], axes[1][i]
        for name, values in z.items():
            column = np.abs(values[:, i][np.isfinite(values[:, i])])
            beyond = (column[:, None] > k).mean(axis=0)
            tails.plot(k, np.where(beyond > 0, beyond, np.nan),
                       label=f"{name}: {100 * beyond_3[name][i]:.2f}% > 3$\\sigma$")
            widths.plot(np.arange(len(in_bin)), widths_of[name][:, i], marker="o", label=name)
        tails.plot(k, gaussian, color="k", ls="--", lw=0.8, label="N(0, 1): 0.27% > 3$\\sigma$")
        tails.set(yscale="log", ylim=(1e-4, 1.2), xlabel=f"k, {_text(label).split(' [')[0]}")
        tails.grid(alpha=0.3, which="both")
        tails.legend(fontsize=6.5, loc="lower left")
        widths.axhline(1.0, color="k", ls="--", lw=0.8)
        widths.axhspan(0.8, 1.25, color="0.9", zorder=0)
        widths.set_xticks(np.arange(len(in_bin)), [f"{t}\n({mask.sum()})" for t, mask in zip(ticks, in_bin.values())],
                          fontsize=6.5)
        widths.set(xlabel="S/N (stars)")
        widths.grid(alpha=0.3)
        widths.legend(fontsize=6.5)
    axes[0][0].set_ylabel(r"fraction with |pred $-$ ref| > k $\sigma$")
    axes[1][0].set_ylabel(r"robust width of (pred $-$ ref) / $\sigma$")
    fig.suptitle(f"{method}: one network against the ensemble (test split)", fontsize=10)
    fig.tight_layout()
    return fig


def separation_histogram(separation_arcsec, radius_arcsec):
    """Nearest-neighbour separations of the cross-match, with the match radius marked."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sep = separation_arcsec[np.isfinite(separation_arcsec) & (separation_arcsec > 0)]
    bins = np.logspace(-3, np.log10(max(sep.max(), 10 * radius_arcsec)) if sep.size else 1, 80)
    ax.hist(sep, bins=bins, color="tab:blue")
    ax.axvline(radius_arcsec, color="k", ls="--", label=f"match radius {radius_arcsec:g}\"")
    ax.set(xscale="log", xlabel="separation to nearest catalogue entry [arcsec]", ylabel="stars")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def costs(cost_table, summary, labels):
    """Training time and prediction throughput per method (top), and each label's robust scatter
    over all test stars (68% bootstrap interval) against the throughput (bottom): the trade-off."""
    fig = plt.figure(figsize=(3.3 * max(len(labels), 2), 6.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    time_ax, speed_ax = top.subplots(1, 2)
    methods = cost_table["method"]
    time_ax.barh(methods, cost_table["train_seconds"], color="tab:orange")
    time_ax.set(xlabel="training time [s]")
    speed_ax.barh(methods, cost_table["stars_per_second"], color="tab:green")
    speed_ax.set(xlabel="prediction throughput [stars/s]", xscale="log")
    plain_log_ticks(speed_ax.xaxis, "{:,.0f}")
    for ax in (time_ax, speed_ax):
        ax.grid(axis="x", alpha=0.3)
    speed = cost_table.set_index("method")["stars_per_second"]
    everyone = summary[summary["subset"] == "all"]
    for ax, label in zip(bottom.subplots(1, len(labels), squeeze=False)[0], labels):
        for j, (method, row) in enumerate(everyone[everyone["label"] == label].set_index("method").iterrows()):
            ax.errorbar(speed[method], row["scatter"], yerr=_interval(row.to_frame().T), fmt="o", color=f"C{j}",
                        capsize=2, label=method)
        ax.set(xscale="log", yscale="log", xlabel="stars/s", ylabel=f"robust scatter {_text(label)}")
        plain_log_ticks(ax.xaxis, "{:,.0f}")
        plain_log_ticks(ax.yaxis)
        ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def loss_curves(history, monitor, method):
    """Per epoch and ensemble member (one colour each): training (solid) and validation (dashed)
    loss on the left, validation scatter of the predicted labels on the right; a dot marks the
    epoch kept, the lowest of the ``monitor``-ed quantity (``"loss"`` or ``"scatter"``). The
    scatter axis shows up to 1.5 times the lowest scatter, where the epochs kept are told apart."""
    fig, (loss_ax, scatter_ax) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
    monitored = {"loss": "validation", "scatter": "validation_scatter"}[monitor]
    for i, member in enumerate(history):
        colour = f"C{i}"
        epochs = np.arange(1, len(member["train"]) + 1)
        loss_ax.plot(epochs, member["train"], color=colour, label=f"member {i + 1} training")
        loss_ax.plot(epochs, member["validation"], color=colour, ls="--", label=f"member {i + 1} validation")
        scatter_ax.plot(epochs, member["validation_scatter"], color=colour, ls="--", label=f"member {i + 1}")
        kept = int(np.argmin(member[monitored]))
        for ax, key in ((loss_ax, "validation"), (scatter_ax, "validation_scatter")):
            ax.plot(kept + 1, member[key][kept], "o", color=colour)
    loss_ax.set(xlabel="epoch", ylabel="negative log-likelihood per label (standardised)")
    lowest = min(min(member["validation_scatter"]) for member in history)
    scatter_ax.set(xlabel="epoch", ylabel="validation scatter (standardised)", ylim=(0.97 * lowest, 1.5 * lowest))
    for ax in (loss_ax, scatter_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(f"{method}: training (dot: epoch kept, lowest validation {monitor})")
    return fig


def save(fig, path):
    """Write a figure and release it."""
    fig.savefig(path)
    plt.close(fig)
