"""selectfactors' workflow: every factor of the rasters sampled at the points, then screened by
correlation and VIF (core.science.selection) -> SelectionRun.
"""

from dataclasses import dataclass, field
from typing import List

import pandas as pd

from ..errors import SoilMetalError
from ..monitor import NULL_MONITOR
from ..sampling import SAMPLING_METHODS, SampleInputs, catalogue_factors, check_factors_found
from ..guards import MIN_STATISTIC_SAMPLES
from ..science.selection import SelectionResult, select_factors
from ..text import format_number


@dataclass
class SelectionSettings:
    """The screening the user asked for, as shown in the report."""

    min_abs_r: float = 0.3
    max_vif: float = 10.0
    always_include: List[str] = field(default_factory=list)


@dataclass
class SelectionRun:
    """Everything a selectfactors run produced: samples, screening result and settings."""

    samples: SampleInputs
    settings: SelectionSettings
    prepared: object            # core.sampling.PreparedSamples
    result: SelectionResult
    candidates: List[str]       # every factor name found in the rasters, in order

    @property
    def samples_context(self):
        """What the run records about its samples (field, points in the layer, sampling, ...)."""
        return self.samples.context()

    @property
    def summary(self):
        """The values the algorithm returns."""
        return {"SELECTED": self.result.selected_string, "N_SAMPLES": int(self.result.n_samples)}


def no_selection_message(table, min_abs_r):
    """Why no factor was selected, with the strongest candidates: an empty SELECTED would make
    'Train GA-BP model' (empty FACTOR_NAMES = every factor) train on all of them."""
    ranked = table.assign(strength=table["r"].abs()).sort_values("strength", ascending=False)
    best = "; ".join(f"{row.factor}: r = {format_number(row.r, 3)} ({row.reason})"
                     for row in ranked.head(3).itertuples(index=False))
    return (f"No factor passed the screening (MIN_ABS_R = {min_abs_r:g}); the strongest were "
            f"{best or 'none'}. Lower MIN_ABS_R, name the factors to keep in ALWAYS_INCLUDE, or "
            "check the factors and the field. (ALLOW_EMPTY writes the table and report of an "
            "empty selection; its empty SELECTED must not feed FACTOR_NAMES, where empty means "
            "every factor.)")


def check_always_include(names, candidates):
    """SoilMetalError when an ALWAYS_INCLUDE name is given twice or is not a band of the rasters."""
    check_factors_found(names, candidates, "ALWAYS_INCLUDE")


def run_selection(samples, settings, monitor=NULL_MONITOR):
    """Sample all factors of the rasters at the points, then screen them -> SelectionRun."""
    if samples.sampling not in SAMPLING_METHODS:
        raise SoilMetalError(f"Unknown sampling method '{samples.sampling}'.")
    candidates = list(catalogue_factors(samples.sources))
    check_always_include(settings.always_include, candidates)
    monitor.info(f"{len(candidates)} candidate factor(s): {', '.join(candidates)}.")
    prepared = samples.prepare(None, MIN_STATISTIC_SAMPLES, monitor)
    monitor.set_progress(50)
    monitor.check_cancelled()
    values = pd.Series(prepared.table.values, name=samples.field or "metal")
    result = select_factors(prepared.table.factors, values, settings.min_abs_r,
                            settings.max_vif, settings.always_include)
    for row in result.table.itertuples(index=False):
        monitor.info(f"{row.factor}: r = {format_number(row.r, 3)}, VIF = "
                     f"{format_number(row.vif, 3)}, {'kept' if row.selected else 'dropped'} "
                     f"({row.reason}).")
    if not result.selected:
        monitor.warning("No factor passed the screening: lower MIN_ABS_R, or check the "
                        "factors and the field.")
    monitor.set_progress(100)
    return SelectionRun(samples, settings, prepared, result, candidates)
