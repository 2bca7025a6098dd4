"""What each method type is and can do: the one table the package, the workflow and the docs read.

Adding a method type is one module of this package with a subclass of
:class:`labeltransfer.methods.base.LabelTransferMethod`, one entry in :data:`KINDS` and a test
(docs/methods.md): the registry, the workflow's check of a config's ``type``, the jobs' ``gpu``
resource, the device a job runs on, the neural-network figures, the flux-influence diagnostic,
the refusal of colours for a flux-only type, the config reference and the docs' table of methods
all follow from it. Standard library only: the workflow and the config reference's generator
read it by path, without importing the package.
"""

from dataclasses import dataclass

__all__ = ["MethodKind", "KINDS", "kinds_table"]


@dataclass(frozen=True)
class MethodKind:
    """One method type.

    Attributes
    ----------
    module : str
        Its module in ``labeltransfer.methods``.
    cls : str
        Its class in that module.
    summary : str
        One line for the docs' table of methods.
    framework : str or None
        The framework that runs it on a GPU (``"torch"`` or ``"xgboost"``): its jobs get the
        resource ``gpu=1`` and run on the GPU when that framework can use one. None: CPU only.
    neural : bool
        Trained epoch by epoch as a deep ensemble: it gets a loss-curve and an
        ensemble-calibration figure.
    influence : bool
        Its labels respond smoothly to the flux (derivatives, or SHAP contributions): it gets a
        flux-influence table.
    flux_only : bool
        It reads the flux alone: its ``feature_set`` must be ``flux``.
    extra_labels : bool
        It reads auxiliary features only as its ``extra_labels`` parameter's (held at each star's
        observed values): its ``feature_set`` must be ``flux`` without extra labels and
        ``flux_colours`` with them (a set holding more would be read in part, silently).
    extinction : bool
        It models the extinction: its ``fit`` takes the training and validation stars' A_K
        (``extinction=``), which the workflow passes from the sample.
    spectrum_model : bool
        It models the spectrum as a function of its parameters (``model_flux``, ``parameter_names_``,
        ``intrinsic_scatter_``): the information bound can be built on it.
    """

    module: str
    cls: str
    summary: str
    framework: str | None = None
    neural: bool = False
    influence: bool = False
    flux_only: bool = False
    extra_labels: bool = False
    extinction: bool = False
    spectrum_model: bool = False


#: Method type (the ``type`` of a ``method_settings`` entry) -> what it is and can do.
KINDS = {
    "knn": MethodKind("knn", "NearestNeighbours", "nearest neighbours in a whitened principal-component space"),
    "cannon": MethodKind("cannon", "TheCannon", "The Cannon: a polynomial per-pixel model of the spectrum in the labels",
                         influence=True, extra_labels=True),
    "xgboost": MethodKind("xgb", "XGBoostRegressor", "gradient-boosted trees, one regressor per label",
                          framework="xgboost", influence=True),
    "mlp": MethodKind("neural", "MLP", "a fully connected network, a deep ensemble", framework="torch", neural=True,
                      influence=True),
    "cnn": MethodKind("neural", "CNN", "a 1D convolutional network, a deep ensemble", framework="torch", neural=True,
                      influence=True),
    "payne": MethodKind("payne", "Payne", "a data-driven Payne: a neural emulator of the spectrum (labels and "
                        "extinction; colours held as extra labels where given), each star fitted by maximum "
                        "likelihood", framework="torch", influence=True, extra_labels=True, extinction=True,
                        spectrum_model=True),
}


def kinds_table():
    """The docs' table of method types (Markdown): type, class, GPU framework, neural, influence, flux only,
    colours as extra labels, extinction, spectrum model."""
    rows = ["| type | class | GPU through | neural | flux influence | flux only | colours as extra labels | extinction "
            "| spectrum model | what it is |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, kind in KINDS.items():
        flags = (kind.neural, kind.influence, kind.flux_only, kind.extra_labels, kind.extinction, kind.spectrum_model)
        marks = ["yes" if flag else "no" for flag in flags]
        rows.append(f"| `{name}` | `{kind.module}.{kind.cls}` | {kind.framework or 'CPU only'} | {' | '.join(marks)} "
                    f"| {kind.summary} |")
    return "\n".join(rows) + "\n"
