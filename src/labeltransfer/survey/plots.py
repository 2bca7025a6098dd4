"""The figure of a labelled survey: its Kiel diagram, its [alpha/M]-[Fe/H] plane and a sky map."""

import numpy as np

from ..evaluation.plots import LABEL_TEXT, plt, save
from .summary import SKY_LEVEL

__all__ = ["plot_survey"]


def plot_survey(accumulator, method, path):
    """Density of the labelled sources in the Teff-logg and [Fe/H]-[alpha/M] planes (log scale) and
    the mean of one label per HEALPix pixel in Galactic coordinates, from a ``SurveyAccumulator``."""
    from astropy.coordinates import ICRS
    from astropy_healpix import HEALPix

    fig = plt.figure(figsize=(16, 4.4))
    fig.subplots_adjust(wspace=0.45)
    for k, ((x, y), counts) in enumerate(accumulator.pairs.items()):
        ax = fig.add_subplot(1, 3, k + 1)
        shown = np.where(counts > 0, counts, np.nan).T
        image = ax.pcolormesh(accumulator.edges[x][::4], accumulator.edges[y][::4], np.log10(shown), cmap="viridis")
        fig.colorbar(image, ax=ax, label="log10 sources per bin")
        ax.set_xlabel(LABEL_TEXT.get(x, x))
        ax.set_ylabel(LABEL_TEXT.get(y, y))
        if x == "teff":
            ax.invert_xaxis()
            ax.invert_yaxis()
    ax = fig.add_subplot(1, 3, 3, projection="mollweide")
    seen = np.flatnonzero(accumulator.sky_count > 0)
    if seen.size:
        centres = HEALPix(nside=2 ** SKY_LEVEL, order="nested", frame=ICRS()).healpix_to_skycoord(seen).galactic
        longitude = -np.radians(((centres.l.deg + 180) % 360) - 180)  # l increasing to the left, as on the sky
        points = ax.scatter(longitude, centres.b.radian, c=accumulator.sky_sum[seen] / accumulator.sky_count[seen],
                            s=4, cmap="coolwarm", marker="s")
        fig.colorbar(points, ax=ax, orientation="horizontal", pad=0.08,
                     label=f"mean {LABEL_TEXT.get(accumulator.sky_label, accumulator.sky_label)}")
    ax.set_xticklabels([])
    ax.grid(alpha=0.3)
    ax.set_title("Galactic, l = 0 at centre")
    flagged = accumulator.flagged["any"] / max(accumulator.n_sources, 1)
    fig.suptitle(f"{method}: {accumulator.n_sources:,} sources in {accumulator.n_chunks} chunks, "
                 f"{100 * flagged:.1f}% flagged")
    save(fig, path)
