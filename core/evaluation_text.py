"""What evaluatemodel's metrics describe, in words: independent samples or not, and why."""

from .model_file import SAMPLES_CV_SINCE

INDEPENDENT = "independent samples"
INCLUDES_TRAINING = "samples that include training samples"
UNKNOWN = "samples whose independence is unknown (the model file does not list its samples)"


def evaluation_label(independence, include_training):
    """The label of evaluatemodel's metrics."""
    if independence is None or not independence.known:
        return UNKNOWN
    if include_training and independence.count:
        return INCLUDES_TRAINING
    return INDEPENDENT


def independence_notes(independence, include_training, total):
    """[(text, kind)] explaining which samples were left out (or why none could be)."""
    if independence is None:
        return []
    if not independence.known:
        return [(f"This model file was written before soilmetal {SAMPLES_CV_SINCE} (format "
                 "version 1) and does not list the samples it was trained and validated on, so "
                 f"evaluatemodel cannot tell which of these {total} samples are independent: "
                 "none was left out, and the metrics may include training samples. Retrain the "
                 "model with 'Train GA-BP model' to get independent evaluation.", "warning")]
    count = independence.count
    train = sum(1 for role in independence.role if role == "train")
    validation = count - train
    if count == 0:
        return [(f"None of the {total} samples lies at a sample the model was trained or "
                 "validated on: the metrics describe independent samples.", "info")]
    detail = (f"{count} of the {total} samples lie at samples the model was given ({train} "
              f"training, {validation} validation; by location, within "
              f"{independence.tolerance:.3g} units of its CRS)")
    if include_training:
        return [(f"{detail}. INCLUDE_TRAINING is set, so they are kept: the metrics include "
                 "training samples and overstate the accuracy at new places.", "warning")]
    return [(f"{detail}; they were left out (N_EXCLUDED = {count}), so the metrics describe "
             f"the {total - count} independent samples. Set INCLUDE_TRAINING to keep them.",
             "info")]
