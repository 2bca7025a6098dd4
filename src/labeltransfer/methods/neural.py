"""Neural methods (PyTorch): a fully connected network (MLP) and a 1D convolutional network (CNN).

Both predict, for every label, a mean and a log-variance (heteroscedastic output) from
standardised inputs, and are trained with a Gaussian (or Student-t, ``likelihood``) negative
log-likelihood in which the reference label's own error adds to the predicted variance, so
that stars with precise reference labels weigh more; missing labels are masked out of the loss. Training uses Adam,
a learning rate halved when the monitored validation quantity stalls or annealed to zero along
a cosine (``schedule``), optionally an exponential moving average of the weights
(``ema_decay``; the averaged network is the one validated and kept), and early stopping on the
validation loss or on the validation scatter of the predicted labels (``monitor``; the best
epoch is kept). The per-star uncertainty
is that of a deep ensemble of ``n_members`` networks (seeds ``random_state + i``): the mean of
the members' predicted variances (aleatoric) plus the variance of their means (epistemic),
calibrated per label on the validation stars like every method's
(``calibration.calibrate_uncertainties``: 60-76% of the stars within 1 sigma and 92-98% within 2;
trained on the likelihood alone, 75% of the stars fell within 1 sigma).

Auxiliary features that are missing for some training stars (a parallax, a 2MASS colour)
are set to their training mean and flagged by an extra 0/1 input; with ``snr_input`` the log
of the spectrum's median S/N is one more input. The MLP may take the spectrum as its
coordinates on the leading principal components of the training flux, whitened
(``flux_components``, :func:`whitened_basis`), rather than as pixels.
"""

from .networks import CNNNetwork, MLPNetwork
from .neural_base import NeuralMethod

__all__ = ["MLP", "CNN"]


class MLP(NeuralMethod):
    """Fully connected network on the flux and the auxiliary features.

    Parameters
    ----------
    flux_components : int or None
        If set, the network sees the spectrum as its coordinates on this many leading
        principal components of the training flux, each scaled to unit variance
        (:func:`whitened_basis`), instead of the standardised pixels; the input noise is drawn in
        pixel space and projected the same way. None: the pixels.
    hidden_sizes : list of int
        Widths of the hidden layers.
    activation : {"relu", "gelu", "silu", "tanh"}
    dropout : float
    snr_input : bool
        Give the network the log of each spectrum's median S/N (from its flux errors) as one
        more input, so that its predicted uncertainty can grow with the noise: a normalised
        spectrum alone does not show how noisy it is.
    likelihood : {"gaussian", "student_t"}
        Likelihood of the reference labels given the predicted mean and scale (with the
        reference errors added), see :func:`label_nll`. With ``"student_t"`` the predicted
        sigma is the scale, made honest by the calibration on the validation split.
    dof : float
        Degrees of freedom of the Student-t likelihood.
    beta : float
        Exponent of the beta-NLL loss (0 for the plain likelihood; see :func:`label_nll`).
    input_noise : float
        Each training batch's flux is perturbed by this many times its own 1-sigma flux
        errors (Gaussian, drawn anew every epoch): augmentation with the survey's noise.
    epochs, batch_size, learning_rate, weight_decay : training settings (Adam).
    schedule : {"plateau", "cosine"}
        ``"plateau"`` halves the learning rate when the monitored validation quantity has not
        improved for ``patience // 3`` epochs; ``"cosine"`` lowers it along a half cosine from
        ``learning_rate`` at the first step to zero at the last step of ``epochs``.
    ema_decay : float
        If > 0, the network kept (validated, early-stopped and saved) is the exponential moving
        average of the weights over the training steps with this decay (0.999: about the last
        1,000 steps), which scatters less than the last step's weights; 0 keeps the weights as
        trained.
    monitor : {"loss", "scatter"}
        What chooses the epoch kept and stops the training: the validation loss, or the
        validation scatter (the mean over labels of the robust scatter of the predicted labels,
        in units of each label's spread). The loss also rewards the predicted variances, which
        the calibration on the validation split corrects afterwards; the scatter follows the
        labels alone and keeps improving for longer.
    patience : int
        Epochs without a better monitored quantity before stopping.
    n_members : int
        Networks in the deep ensemble (2: a third member was a tie on every label, on
        validation; docs/validation.md).
    device : str
        ``"cpu"`` or ``"cuda"`` (the workflow sets the job's).
    threads : int
        CPU threads (the workflow sets the job's).
    random_state : int
        Seed of the first member (member ``i`` uses ``random_state + i``).

    The parameters from ``snr_input`` on are the training settings every neural method shares
    (:class:`labeltransfer.methods.neural_base.NeuralMethod`), given here as ``**training``.
    """

    method_type = "mlp"

    def __init__(self, *, flux_components=None, hidden_sizes=(256, 256, 256), activation="gelu", dropout=0.0,
                 **training):
        super().__init__(**training)
        self.flux_components = flux_components
        self.hidden_sizes = list(hidden_sizes)
        self.activation = activation
        self.dropout = dropout

    def _flux_components(self):
        return self.flux_components

    def _network(self):
        return MLPNetwork(self._n_flux_inputs(), self._n_aux_inputs(), len(self.label_names_),
                           self.hidden_sizes, self.activation, self.dropout)


class CNN(NeuralMethod):
    """1D convolutional network on the spectrum; auxiliary features join after the convolutions.

    Parameters
    ----------
    filters : list of int
        Filters of each convolution block (convolution, activation, max-pooling).
    kernel_size, pool : int
        Kernel width and pooling factor of every block.
    dense_sizes : list of int
        Widths of the dense layers after the convolutions.
    activation, dropout : As for :class:`MLP`.
    **training :
        The training settings every neural method shares (``snr_input`` to ``random_state``),
        as for :class:`MLP`.
    """

    method_type = "cnn"

    def __init__(self, *, filters=(8, 16), kernel_size=7, pool=4, dense_sizes=(256, 128), activation="gelu",
                 dropout=0.0, **training):
        super().__init__(**training)
        self.filters = list(filters)
        self.kernel_size = kernel_size
        self.pool = pool
        self.dense_sizes = list(dense_sizes)
        self.activation = activation
        self.dropout = dropout

    def _network(self):
        return CNNNetwork(n_pixels=len(self.flux_mean_), n_aux=self._n_aux_inputs(), n_labels=len(self.label_names_),
                           filters=self.filters, kernel_size=self.kernel_size, pool=self.pool,
                           dense_sizes=self.dense_sizes, activation=self.activation, dropout=self.dropout)
