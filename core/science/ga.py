"""Real-coded genetic algorithm that seeds all weights and thresholds of the BP network.

One generation: tournament selection (size 2) of parents, arithmetic crossover of
consecutive parent pairs with probability `crossover`, gaussian mutation of each gene with
probability `mutation` and a step that anneals linearly from MUTATION_SCALE to
MUTATION_SCALE / generations (coarse search first, fine tuning last), and elitism: the best
individual so far replaces the first child, so the best MSE never worsens. Fitness is the
training MSE on the normalised target (lower is better), computed for the whole population
in one vectorised pass.
"""

from dataclasses import dataclass, field

import numpy as np

from ..monitor import NULL_MONITOR
from .network import forward_population, n_params

INITIAL_RANGE = 1.0      # initial genes uniform in [-1, 1], like the usual MATLAB GA-BP code
MUTATION_SCALE = 0.5     # std of the first generation's mutation step, relative to INITIAL_RANGE


@dataclass
class GAResult:
    """Outcome of one GA run: the best parameter vector and the MSE curves."""

    best_theta: np.ndarray
    best_mse: list = field(default_factory=list)   # initial population, then after each generation
    mean_mse: list = field(default_factory=list)


def population_mse(thetas, xs, ys):
    """Training MSE (P,) of P networks thetas (P, n_params) on scaled xs (n, L), ys (n,)."""
    errors = forward_population(thetas, xs) - ys[None, :]
    return np.mean(errors ** 2, axis=1)


def run_ga(xs, ys, hidden, rng, population=30, generations=50, crossover=0.3, mutation=0.1,
           monitor=NULL_MONITOR):
    """Evolve network parameters for scaled xs (n, L), ys (n,); returns the best theta and curves."""
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    size = n_params(xs.shape[1], hidden)
    pop = rng.uniform(-INITIAL_RANGE, INITIAL_RANGE, size=(population, size))
    mse = population_mse(pop, xs, ys)
    best_curve = [float(mse.min())]
    mean_curve = [float(mse.mean())]
    n_pairs = population // 2
    for generation in range(generations):
        elite_index = int(np.argmin(mse))
        elite, elite_mse = pop[elite_index].copy(), mse[elite_index]

        contenders = rng.integers(0, population, size=(population, 2))
        winners = np.where(mse[contenders[:, 0]] <= mse[contenders[:, 1]],
                           contenders[:, 0], contenders[:, 1])
        children = pop[winners]

        crossing = rng.random(n_pairs) < crossover
        alpha = rng.random((n_pairs, 1))
        first, second = children[0:2 * n_pairs:2], children[1:2 * n_pairs:2]   # views
        blend_first = alpha * first + (1.0 - alpha) * second
        blend_second = (1.0 - alpha) * first + alpha * second
        first[crossing] = blend_first[crossing]
        second[crossing] = blend_second[crossing]

        scale = MUTATION_SCALE * INITIAL_RANGE * (1.0 - generation / max(generations, 1))
        mutating = rng.random(children.shape) < mutation
        children += mutating * rng.normal(0.0, scale, size=children.shape)

        children[0] = elite
        pop = children
        mse = population_mse(pop, xs, ys)
        # The elite's MSE is known; reusing it keeps the best curve exactly non-increasing.
        mse[0] = elite_mse
        best_curve.append(float(mse.min()))
        mean_curve.append(float(mse.mean()))
        monitor.set_progress(100.0 * (generation + 1) / generations)
        monitor.check_cancelled()
    return GAResult(best_theta=pop[int(np.argmin(mse))].copy(), best_mse=best_curve,
                    mean_mse=mean_curve)
