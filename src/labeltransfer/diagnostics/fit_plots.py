"""Figures of how well a spectrum model describes the spectra it fits (the Payne's emulator)."""

import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np

from ..evaluation.plots import plain_log_ticks  # also the Agg backend and the figures' style

__all__ = ["spectrum_model_fit"]

#: The two weightings of the residuals: (key of the fits file, legend text, colour).
_WEIGHTINGS = (("reduced_chi2", "flux errors + intrinsic scatter (the fit's)", "C0"),
               ("reduced_chi2_flux_errors", "flux errors alone", "C1"))


def spectrum_model_fit(fits, table, band, method):
    """The reduced chi-square of the validation stars per S/N bin, the intrinsic scatter against the
    flux errors per pixel, and, where the model fits the extinction, the test stars' fitted A_K against
    the reference.

    Parameters
    ----------
    fits : mapping
        The fits file of :func:`labeltransfer.pipeline.spectrum_model.evaluate_spectrum_model`: ``snr_bins``,
        ``validation_snr``, ``reduced_chi2``, ``reduced_chi2_flux_errors`` (n_validation,); ``wavelength``
        [nm], ``intrinsic_scatter``, ``flux_error_p16``, ``flux_error_median``, ``flux_error_p84``
        (n_pixels,); where A_K is fitted, ``test_snr``, ``a_k_reference``, ``a_k_fitted`` [mag] (n_test,).
    table : pandas.DataFrame
        Its table: the ``all`` row's ``a_k_bias`` and ``a_k_scatter`` with their 68% intervals are printed.
    band : (float, float)
        The reduced chi-square band shaded (where the median star should be).
    method : str
        The method's name, for the title.
    """
    extinction = "a_k_fitted" in fits
    fig, axes = plt.subplots(1, 3 if extinction else 2, figsize=(15.5 if extinction else 10.5, 4.4),
                             gridspec_kw={"width_ratios": [1.25, 1.25, 1][:3 if extinction else 2]})
    _reduced_chi2_panel(axes[0], fits, band)
    _scatter_panel(axes[1], fits)
    if extinction:
        _extinction_panel(fig, axes[2], fits, table.set_index("subset").loc["all"])
    fig.suptitle(f"{method}: how well the emulator describes the spectra")
    fig.tight_layout()
    return fig


def _reduced_chi2_panel(ax, fits, band):
    """Boxes of the reduced chi-square (median, 16-84th percentiles; whiskers 2.5-97.5th) of all validation
    stars and of each S/N bin, with the intrinsic scatter and with the flux errors alone."""
    edges, snr = fits["snr_bins"], fits["validation_snr"]
    groups = [("all", np.ones(len(snr), dtype=bool))] + [
        (f"{lo:g}-{hi:g}" if np.isfinite(hi) else f"\u2265{lo:g}", (snr >= lo) & (snr < hi))
        for lo, hi in zip(edges[:-1], edges[1:])]
    ax.axhspan(*band, color="0.88", zorder=0)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":", zorder=0)
    for offset, (key, _, colour) in zip((-0.19, 0.19), _WEIGHTINGS):
        stats = [{"med": q[2], "q1": q[1], "q3": q[3], "whislo": q[0], "whishi": q[4], "fliers": []}
                 for q in (np.percentile(fits[key][mask], [2.5, 16, 50, 84, 97.5]) for _, mask in groups if mask.any())]
        positions = [i + offset for i, (_, mask) in enumerate(groups) if mask.any()]
        ax.bxp(stats, positions=positions, widths=0.34, patch_artist=True, manage_ticks=False,
               boxprops={"facecolor": colour, "alpha": 0.55, "edgecolor": colour},
               medianprops={"color": "k", "lw": 1.2}, whiskerprops={"color": colour}, capprops={"color": colour})
    ax.axvline(0.5, color="0.6", lw=0.8)
    ax.set_xticks(range(len(groups)), [f"{name}\n{mask.sum()}" for name, mask in groups], fontsize=8)
    ax.set(xlim=(-0.6, len(groups) - 0.4), yscale="log", xlabel="S/N bin (validation stars in it)",
           ylabel=r"reduced $\chi^2$ at the best fit", title="Validation stars")
    plain_log_ticks(ax.yaxis)
    handles = [matplotlib.patches.Patch(facecolor=colour, alpha=0.55, label=text) for _, text, colour in _WEIGHTINGS]
    handles.append(matplotlib.patches.Patch(facecolor="0.88", label=f"{band[0]:g}-{band[1]:g}"))
    ax.legend(handles=handles, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.27), ncol=2,
              title="residuals weighed by (box 16-84%, whiskers 2.5-97.5%)", title_fontsize=7.5)


def _scatter_panel(ax, fits):
    """The model's intrinsic scatter per pixel beside the validation stars' flux errors; a scatter below a
    third of the smallest flux error (the axis' floor; the fit may set it to zero) is marked on the floor."""
    wavelength, scatter = fits["wavelength"], fits["intrinsic_scatter"]
    ax.fill_between(wavelength, fits["flux_error_p16"], fits["flux_error_p84"], color="C1", alpha=0.25, lw=0,
                    label="validation stars' flux error, 16-84%")
    ax.plot(wavelength, fits["flux_error_median"], color="C1", lw=1.2, label="validation stars' flux error, median")
    errors = fits["flux_error_p16"][fits["flux_error_p16"] > 0]
    floor = np.nanmin(errors) / 3 if errors.size else np.nanmin(scatter[scatter > 0], initial=1e-3)
    ax.plot(wavelength, np.maximum(scatter, floor), color="C0", lw=1.2, label="intrinsic scatter of the model")
    below = scatter < floor
    if below.any():
        ax.plot(wavelength[below], np.full(below.sum(), floor), "v", color="C0", ms=4, clip_on=False,
                label=f"intrinsic scatter below the axis ({below.sum()} pixels)")
    ax.set(yscale="log", ylim=(floor, None), xlabel="wavelength [nm]", ylabel="per-pixel sigma [normalised flux]",
           title="Intrinsic scatter and flux errors")
    plain_log_ticks(ax.yaxis)
    ax.legend(fontsize=7.5)


def _extinction_panel(fig, ax, fits, overall):
    """The test stars' fitted A_K against the reference, coloured by S/N, with the bias and scatter."""
    reference, fitted, snr = fits["a_k_reference"], fits["a_k_fitted"], fits["test_snr"]
    lo, hi = np.nanpercentile(np.r_[reference, fitted], [0.5, 99.5]) if len(fitted) else (0.0, 1.0)
    pad = 0.05 * (hi - lo) + 1e-3
    low, high = np.percentile(snr, [1, 99]) if len(snr) else (1.0, 10.0)
    wide = low > 0 and high > 3 * low  # a log scale where S/N spans more than a factor of three
    norm = matplotlib.colors.LogNorm(low, high) if wide else matplotlib.colors.Normalize(low, high)
    points = ax.scatter(reference, fitted, c=snr, s=6, cmap="viridis", norm=norm, alpha=0.8, lw=0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="k", lw=0.8)
    colourbar = fig.colorbar(points, ax=ax, label="S/N")
    if wide:
        plain_log_ticks(colourbar.ax.yaxis)
    ax.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad), xlabel=r"reference $A_K$ [mag]",
           ylabel=r"fitted $A_K$ [mag]", title="Test stars")
    text = (f"N = {overall['n_test_a_k']:.0f}\n"
            f"bias {overall['a_k_bias']:.3f} [{overall['a_k_bias_lo68']:.3f}, {overall['a_k_bias_hi68']:.3f}] mag\n"
            f"scatter {overall['a_k_scatter']:.3f} [{overall['a_k_scatter_lo68']:.3f}, "
            f"{overall['a_k_scatter_hi68']:.3f}] mag")
    ax.text(0.04, 0.96, text, transform=ax.transAxes, va="top", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
