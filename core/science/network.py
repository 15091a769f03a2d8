"""The 3-layer BP network (L inputs, H tanh hidden neurons, one linear output) as pure NumPy.

Parameter vector layout (FIXED: the model file, the GA, LM and the transfer step rely on it):

    theta = [W1 (H x L, row-major), b1 (H), w2 (H), b2 (1)]      n_params = L*H + H + H + 1

    output(x) = w2 . tanh(W1 @ x + b1) + b2

W1[h, l] (weight from input l to hidden neuron h) is theta[h*L + l]. For the paper's 9-4-1
network that is 36 + 4 + 4 + 1 = 45 values: its "40 weights" (36 + 4) and "5 thresholds"
(4 + 1). Inputs and target are scaled to [-1, 1] by the min-max of the training samples
(MATLAB mapminmax) before they reach the network; `minmax_*` below do that scaling.
"""

import numpy as np


def n_params(n_inputs, hidden):
    """Number of weights and thresholds of an n_inputs-hidden-1 network."""
    return int(n_inputs) * int(hidden) + 2 * int(hidden) + 1


def hidden_from_n_params(count, n_inputs):
    """Hidden size H of a network with `count` parameters and n_inputs inputs (ValueError if none)."""
    hidden, remainder = divmod(int(count) - 1, int(n_inputs) + 2)
    if remainder or hidden < 1:
        raise ValueError(f"{count} parameters do not fit an {n_inputs}-H-1 network")
    return hidden


def unpack(theta, n_inputs):
    """Split theta (n_params,) into W1 (H, L), b1 (H,), w2 (H,), b2 (scalar); views, not copies."""
    theta = np.asarray(theta, dtype=float)
    hidden = hidden_from_n_params(theta.shape[-1], n_inputs)
    cut_w1 = hidden * n_inputs
    w1 = theta[:cut_w1].reshape(hidden, n_inputs)
    b1 = theta[cut_w1:cut_w1 + hidden]
    w2 = theta[cut_w1 + hidden:cut_w1 + 2 * hidden]
    return w1, b1, w2, theta[-1]


def pack(w1, b1, w2, b2):
    """Join W1 (H, L), b1 (H,), w2 (H,), b2 (scalar) into theta (n_params,)."""
    return np.concatenate([np.ravel(w1), np.ravel(b1), np.ravel(w2), np.ravel(b2)]).astype(float)


def _hidden_activations(theta, xs):
    """tanh(xs @ W1.T + b1) (n, H) and the unpacked output weights of one network."""
    w1, b1, w2, b2 = unpack(theta, xs.shape[1])
    return np.tanh(xs @ w1.T + b1), w2, b2


def forward(theta, xs):
    """Network output (n,) for scaled inputs xs (n, L) and one parameter vector theta (n_params,)."""
    xs = np.asarray(xs, dtype=float)
    activations, w2, b2 = _hidden_activations(theta, xs)
    return activations @ w2 + b2


def forward_population(thetas, xs):
    """Outputs (P, n) of P networks thetas (P, n_params) on scaled inputs xs (n, L), in one pass."""
    thetas = np.asarray(thetas, dtype=float)
    xs = np.asarray(xs, dtype=float)
    count, n_inputs = thetas.shape[0], xs.shape[1]
    hidden = hidden_from_n_params(thetas.shape[1], n_inputs)
    cut_w1 = hidden * n_inputs
    w1 = thetas[:, :cut_w1].reshape(count, hidden, n_inputs)
    b1 = thetas[:, cut_w1:cut_w1 + hidden]
    w2 = thetas[:, cut_w1 + hidden:cut_w1 + 2 * hidden]
    b2 = thetas[:, -1]
    # (P, H, L) x (L, n) -> (P, H, n): one batched matmul for the whole population.
    activations = np.tanh(np.matmul(w1, xs.T) + b1[:, :, None])
    return np.einsum("ph,phn->pn", w2, activations) + b2[:, None]


def jacobian(theta, xs):
    """Analytic Jacobian (n, n_params) of the network output w.r.t. theta at scaled inputs xs (n, L)."""
    xs = np.asarray(xs, dtype=float)
    n_samples, n_inputs = xs.shape
    activations, w2, _ = _hidden_activations(theta, xs)
    hidden = activations.shape[1]
    # d out / d (pre-activation of neuron h) = w2[h] * (1 - tanh^2)
    delta = w2 * (1.0 - activations ** 2)
    jac = np.empty((n_samples, n_params(n_inputs, hidden)))
    cut_w1 = hidden * n_inputs
    jac[:, :cut_w1] = (delta[:, :, None] * xs[:, None, :]).reshape(n_samples, cut_w1)
    jac[:, cut_w1:cut_w1 + hidden] = delta
    jac[:, cut_w1 + hidden:cut_w1 + 2 * hidden] = activations
    jac[:, -1] = 1.0
    return jac


def minmax_fit(values):
    """Column-wise (min, max) of values (n, L) -> two (L,) arrays, or scalars for values (n,)."""
    values = np.asarray(values, dtype=float)
    return values.min(axis=0), values.max(axis=0)


def minmax_gain(vmin, vmax):
    """(gain, varied) of the min-max scaling by vmin/vmax, (L,) or scalars: minmax_apply(x) is
    (x - vmin) * gain - varied, so [vmin, vmax] maps to [-1, 1]."""
    vmin = np.asarray(vmin, dtype=float)
    span = np.asarray(vmax, dtype=float) - vmin
    # A factor that never varied in training carries no information: scaling it with gain 0
    # (to the centre, 0) avoids the division by zero and keeps such inputs out of tanh saturation.
    varied = span > 0
    return np.divide(2.0, span, out=np.zeros_like(span), where=varied), varied


def minmax_apply(values, vmin, vmax):
    """Scale values (n, L) or (n,) to [-1, 1] by vmin/vmax (mapminmax); a constant column maps to 0."""
    values = np.asarray(values, dtype=float)
    gain, varied = minmax_gain(vmin, vmax)
    return (values - np.asarray(vmin, dtype=float)) * gain - varied.astype(float)


def minmax_invert(scaled, vmin, vmax):
    """Map scaled values in [-1, 1] back to the original units (inverse of minmax_apply)."""
    scaled = np.asarray(scaled, dtype=float)
    vmin = np.asarray(vmin, dtype=float)
    return vmin + (scaled + 1.0) * 0.5 * (np.asarray(vmax, dtype=float) - vmin)
