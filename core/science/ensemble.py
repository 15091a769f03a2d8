"""A model's member networks applied together: the ensemble mean and spread in running sums, the
pixel form that evaluates whole raster blocks (the mapping step's inner loop), and the
extrapolation rule (factors outside the ranges of the training samples)."""

import numpy as np

from .network import minmax_gain, minmax_invert, unpack


def ensemble_moments(outputs, log_target):
    """Mean and population std (ddof 0) (n,) in mg/kg of the members' outputs, an iterable of (n,)
    arrays on the model's scale; and the prediction on the model's scale (n,): the mean of the
    members' logs for a log_target model (its exp, the geometric mean, is the mean returned), the
    mean otherwise. NaN stays NaN, also in the std of a single network.

    Running (Welford) sums keep memory at a few (n,) arrays for any ensemble size.
    """
    count = 0
    mean = spread = centre = None
    for count, output in enumerate(outputs, start=1):
        value = np.exp(output) if log_target else output
        if count == 1:
            # + 0.0 turns the -0.0 of a negative output into 0.0 (a single network has no spread).
            mean, spread, centre = value, value * 0.0 + 0.0, output
            continue
        delta = value - mean
        mean = mean + delta / count
        spread += delta * (value - mean)
        if log_target:
            centre = centre + (output - centre) / count
    if log_target:
        return np.exp(centre), np.sqrt(spread / count), centre
    return mean, np.sqrt(spread / count), mean


def factors_outside(values, low, high):
    """How many factors (n,) of values (L, n) lie outside their training range [low, high] (L,)."""
    return ((values < low[:, None]) | (values > high[:, None])).sum(axis=0)


class PixelModel:
    """A model's networks for whole raster blocks: the input min-max scaling is folded into the
    first layer, and pixels stay in the (factors, pixels) layout they are read in, so a block is
    evaluated with one small matrix product per layer in float32, without transposes or copies.
    NaN pixels give NaN. Agrees with Model.predict to float32 precision."""

    def __init__(self, model):
        x_min = np.asarray(model.x_min, dtype=np.float64)
        gain, varied = minmax_gain(x_min, model.x_max)
        # minmax_apply(x) = x * gain - shift, so W1 @ scaled + b1 = (W1 * gain) @ x + (b1 - W1 @ shift).
        shift = x_min * gain + varied
        self.layers = []
        for theta in model.members:
            w1, b1, w2, b2 = unpack(theta, model.n_inputs)
            # Weights beyond float32 become inf here; the mapping step refuses the non-finite contents.
            with np.errstate(over="ignore", invalid="ignore"):
                self.layers.append(((w1 * gain).astype(np.float32), (b1 - w1 @ shift).astype(np.float32)[:, None],
                                    w2.astype(np.float32), float(b2)))
        self.y_min, self.y_max = model.y_min, model.y_max
        self.log_target = model.log_target

    def predict(self, pixels):
        """Ensemble mean and population std (n,) in mg/kg of pixels (L, n) float32."""
        mean, spread, _ = self.predict_with_centre(pixels)
        return mean, spread

    def predict_with_centre(self, pixels):
        """Mean and std (n,) in mg/kg, and the prediction on the model's scale (n,) (see
        ensemble_moments) of pixels (L, n) float32; weights too large for float32 give inf/NaN."""
        with np.errstate(over="ignore", invalid="ignore"):
            return ensemble_moments(self._member_outputs(pixels), self.log_target)

    def _member_outputs(self, pixels):
        """Yields each member's output (n,) float64 on the model's scale."""
        for w1, b1, w2, b2 in self.layers:
            hidden = w1 @ pixels
            hidden += b1
            np.tanh(hidden, out=hidden)
            yield minmax_invert((w2 @ hidden).astype(np.float64) + b2, self.y_min, self.y_max)
