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
from .neural_base import NeuralMethod, training_settings

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
        Activation of the hidden layers.
    dropout : float
        Dropout after each hidden layer.

    The training settings, ``snr_input`` to ``random_state`` in the signature, are those every
    neural method shares: :class:`NeuralMethod` documents them.
    """

    method_type = "mlp"

    def __init__(self, *, flux_components=None, hidden_sizes=(256, 256, 256), activation="gelu", dropout=0.0,
                 snr_input=False, likelihood="gaussian", dof=5.0, beta=0.0, input_noise=0.0, epochs=150,
                 batch_size=128, learning_rate=3e-4, weight_decay=1e-4, schedule="plateau", ema_decay=0.0,
                 monitor="loss", patience=15, n_members=2, device="cpu", threads=1, random_state=0):
        super().__init__(**training_settings(locals()))
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
    activation, dropout
        As for :class:`MLP`.

    The training settings, ``snr_input`` to ``random_state`` in the signature, are those every
    neural method shares: :class:`NeuralMethod` documents them.
    """

    method_type = "cnn"

    def __init__(self, *, filters=(8, 16), kernel_size=7, pool=4, dense_sizes=(256, 128), activation="gelu",
                 dropout=0.0, snr_input=False, likelihood="gaussian", dof=5.0, beta=0.0, input_noise=0.0, epochs=150,
                 batch_size=128, learning_rate=3e-4, weight_decay=1e-4, schedule="plateau", ema_decay=0.0,
                 monitor="loss", patience=15, n_members=2, device="cpu", threads=1, random_state=0):
        super().__init__(**training_settings(locals()))
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
