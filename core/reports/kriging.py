"""The residual kriging section of the training and transfer reports: the variogram, the verdict
and the CV table of model + kriged residuals, drawn from the record
core/workflows/kriging_record.py computed (model.cv["kriging"])."""

import numpy as np

from ..science.metrics import UNIT
from ..science.residual_kriging import NO_STRUCTURE
from ..science.variogram import STRUCTURE_ALPHA, VariogramModel
from ..text import format_number
from ..workflows.kriging_record import stored_record, verdict_text
from .cv import cv_frame
from .figures import new_figure


def variogram_figure(record, title="Variogram of the out-of-fold residuals"):
    """The empirical variogram (gstat bins) with the fitted model, or None without bins."""
    empirical = record.get("empirical")
    if not empirical:
        return None
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    dist, gamma = np.asarray(empirical["dist"]), np.asarray(empirical["gamma"])
    ax.plot(dist, gamma, "o", color="#2b6f9e", label="empirical (pairs per bin as gstat)")
    if record.get("variogram"):
        vgm = VariogramModel.from_dict(record["variogram"])
        h = np.linspace(0, float(empirical["cutoff"]), 200)[1:]
        ax.plot(h, vgm.semivariance(h), "-", color="#c0392b",
                label=f"{vgm.model}: nugget {vgm.nugget:.3g}, partial sill {vgm.psill:.3g}, "
                      f"range {vgm.range:.0f} m")
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("semivariance (model scale)")
    ax.set_ylim(0, None)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def kriging_section(report, model, model_name="GA-BP"):
    """Add the residual kriging section (nothing more than a line when CV was off)."""
    report.heading("Residual kriging (regression kriging), judged by the same CV")
    record = stored_record(model) if model.cv is not None else None
    if record is None:
        report.paragraph("Not available: it needs the out-of-fold residuals of cross-validation "
                         "(CV = 1 or 2).")
        return
    scale = "log(content)" if model.log_target else f"content ({UNIT})"
    source = ("fitted on the out-of-fold residuals" if record["variogram_source"] == "target"
              else "the source model's variogram with its sill rescaled to the variance of "
                   "these residuals")
    report.paragraph(
        f"The out-of-fold residuals ({scale}) are kriged by ordinary kriging from the "
        f"{record['neighbours']} nearest samples. Variogram: {source}, spherical model "
        "weighted by pairs / distance\u00b2 (gstat's fit.variogram default) on gstat's bins "
        "(cutoff a third of the samples' bounding-box diagonal, 15 bins). In each CV fold the "
        "variogram is refit on that fold's training residuals only and the held-out residuals "
        "are kriged from the training samples, so the error below is out-of-fold too.")
    if record.get("variogram"):
        vgm = VariogramModel.from_dict(record["variogram"])
        p_value = record.get("p_value")
        if p_value is not None and p_value >= STRUCTURE_ALPHA:
            # The fitted curve alone would claim a structure the permutation test does not support.
            text = (f"{vgm.summary()} (nugget-to-sill ratio {vgm.nugget_ratio:.2f}). A fit this "
                    "good also arises for the same residuals shuffled between the sample locations "
                    f"(permutation test p = {p_value:.2g}, not significant at {STRUCTURE_ALPHA:g}), "
                    "so no spatial structure is established.")
        else:
            text = vgm.describe()
            if p_value is not None:
                text += (f" Permutation test of spatial structure: p = {p_value:.2g} "
                         f"(significant at {STRUCTURE_ALPHA:g}).")
        report.paragraph(text)
    # The verdict note below says when there is no structure; the notes keep what it does not.
    notes = [part for part in str(record.get("note") or "").split("; ") if part and part != NO_STRUCTURE]
    if notes:
        report.paragraph("Notes: {}.".format("; ".join(notes)))
    report.note(verdict_text(model), "info" if record["structure"] else "warning")
    report.table(cv_frame(model.cv, {model_name: model.cv["metrics"],
                                     f"{model_name} + kriged residuals": record["metrics"]}),
                 float_format=format_number,
                 caption="Cross-validated error of the model and of model + kriged residuals")
    figure = variogram_figure(record)
    if figure is not None:
        report.figure(figure, caption="Empirical semivariogram of the out-of-fold residuals and "
                                      "the fitted model")
