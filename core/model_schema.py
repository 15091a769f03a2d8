"""The model file's format: its marker and version, and the validation of a parsed file.

model_fields checks every value of a parsed model file (types, shapes, finite numbers, the
optional samples and cv sections) before anything uses it and returns the Model's fields; what
is wrong is raised as DamagedModel, which load_model (model_file.py) turns into a user message.
"""

import math

import numpy as np

from .science.network import n_params

FORMAT = "soilmetal-model"
# Version 2 (soilmetal 0.2.0) adds the optional "samples" and "cv" sections (SCHEMA: the
# samples a model was given, and its cross-validation); version-1 files still load, with both
# None, and what needs them stops with require_samples / require_cv's message. The optional
# "sensor" text (the SENSOR of the factor rasters the model was fitted on, e.g. 'Landsat 8 OLI';
# absent when unknown) needs no new version: files without it load with sensor ''.
FORMAT_VERSION = 2
CV_SCHEMES = ("spatial", "random", "leave-one-out")
SAMPLE_ROLES = ("train", "validation")
PARAMETER_LAYOUT = "theta = [W1 (H x L, row-major), b1 (H), w2 (H), b2 (1)]"
REQUIRED_KEYS = ("format", "format_version", "factor_names", "hidden", "log_target",
                 "x_min", "x_max", "y_min", "y_max", "members", "factor_ranges")


class DamagedModel(Exception):
    """What is wrong with a parsed model file (load_model turns it into a SoilMetalError)."""


def _numbers(value, name, length=None):
    """value as a finite float array (n,), else DamagedModel naming the key and the problem."""
    if not isinstance(value, list) or any(isinstance(item, (bool, str, list, dict)) or item is None
                                          for item in value):
        raise DamagedModel(f"'{name}' must be a list of numbers")
    try:
        array = np.asarray(value, dtype=float)
    except (OverflowError, ValueError):
        raise DamagedModel(f"'{name}' holds a number out of range") from None
    if length is not None and array.size != length:
        raise DamagedModel(f"'{name}' has {array.size} values, expected {length}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise DamagedModel(f"'{name}' value {int(bad[0])} is not a finite number ({array[bad[0]]})")
    return array


def _number(value, name):
    """value as a finite float, else DamagedModel."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, (bool, str)) or not math.isfinite(number):
        raise DamagedModel(f"'{name}' must be a finite number, found {value!r}")
    return number


def model_fields(content):
    """The Model fields (a dict) of a parsed model file, every value validated; DamagedModel
    describing the first problem."""
    missing = [key for key in REQUIRED_KEYS if key not in content]
    if missing:
        raise DamagedModel(f"missing {', '.join(repr(key) for key in missing)}")
    version = content["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DamagedModel(f"'format_version' must be a whole number >= 1, found {version!r}")

    names = content["factor_names"]
    if (not isinstance(names, list) or not names
            or not all(isinstance(name, str) and name.strip() for name in names)):
        raise DamagedModel("'factor_names' must be a non-empty list of factor names")
    if len(set(names)) != len(names):
        raise DamagedModel("'factor_names' lists a factor twice")
    n_inputs = len(names)
    hidden = content["hidden"]
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise DamagedModel(f"'hidden' must be a whole number >= 1, found {hidden!r}")
    if not isinstance(content["log_target"], bool):
        raise DamagedModel("'log_target' must be true or false")

    x_min = _numbers(content["x_min"], "x_min", n_inputs)
    x_max = _numbers(content["x_max"], "x_max", n_inputs)
    if np.any(x_min > x_max):
        raise DamagedModel("'x_min' is larger than 'x_max' for "
                       f"{names[int(np.flatnonzero(x_min > x_max)[0])]}")
    y_min = _number(content["y_min"], "y_min")
    y_max = _number(content["y_max"], "y_max")
    if y_min > y_max:
        raise DamagedModel("'y_min' is larger than 'y_max'")

    members = content["members"]
    if not isinstance(members, list) or not members:
        raise DamagedModel("'members' must be a non-empty list of weight vectors")
    expected = n_params(n_inputs, hidden)
    thetas = []
    for index, theta in enumerate(members):
        if not isinstance(theta, list) or len(theta) != expected:
            found = len(theta) if isinstance(theta, list) else type(theta).__name__
            raise DamagedModel(f"member {index} has {found} weights and thresholds, expected "
                           f"{expected} for {n_inputs} factors and {hidden} hidden neurons")
        thetas.append(_numbers(theta, f"members[{index}]", expected))

    ranges = content["factor_ranges"]
    if not isinstance(ranges, dict) or set(ranges) != set(names):
        raise DamagedModel("'factor_ranges' must give [min, max] for exactly the factors in "
                       "'factor_names'")
    factor_ranges = {}
    for name in names:
        low, high = _numbers(ranges[name], f"factor_ranges[{name}]", 2)
        if low > high:
            raise DamagedModel(f"'factor_ranges' of {name} has min > max")
        factor_ranges[name] = [float(low), float(high)]

    optional_types = {"metal": str, "method": str, "settings": dict, "training_metrics": dict,
                      "provenance": dict, "curves": list, "sensor": str}
    for key, kind in optional_types.items():
        if key in content and not isinstance(content[key], kind):
            raise DamagedModel(f"'{key}' must be a {kind.__name__}")
    seed = content.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DamagedModel(f"'seed' must be a whole number, found {seed!r}")

    samples = _samples_section(content.get("samples"), n_inputs)
    cv = _cv_section(content.get("cv"), samples)

    return dict(factor_names=names, x_min=x_min, x_max=x_max, y_min=y_min, y_max=y_max,
                members=thetas, hidden=hidden, log_target=content["log_target"],
                metal=content.get("metal", ""), method=content.get("method", "GA-BP"),
                seed=seed, settings=content.get("settings", {}),
                training_metrics=content.get("training_metrics", {}),
                factor_ranges=factor_ranges, provenance=content.get("provenance", {}),
                curves=content.get("curves", []), samples=samples, cv=cv,
                sensor=content.get("sensor", ""))


def _strings(value, name, length, allowed=None):
    """value as a list of length strings (from allowed when given), else DamagedModel."""
    if not isinstance(value, list) or len(value) != length \
            or not all(isinstance(item, str) for item in value):
        raise DamagedModel(f"'{name}' must be a list of {length} texts")
    if allowed is not None and any(item not in allowed for item in value):
        raise DamagedModel(f"'{name}' values must be one of {', '.join(allowed)}")
    return list(value)


def _optional_object(section, name):
    """An optional section of the file: None when absent, the section when it is an object,
    else DamagedModel."""
    if section is not None and not isinstance(section, dict):
        raise DamagedModel(f"'{name}' must be an object")
    return section


def _samples_section(section, n_inputs):
    """The validated 'samples' dict (SCHEMA: crs, x, y, id, factors, observed, role) or None."""
    if _optional_object(section, "samples") is None:
        return None
    missing = [key for key in ("crs", "x", "y", "id", "factors", "observed", "role")
               if key not in section]
    if missing:
        raise DamagedModel(f"'samples' lacks {', '.join(repr(key) for key in missing)}")
    if not isinstance(section["crs"], str):
        raise DamagedModel("'samples.crs' must be a text (WKT)")
    n = len(section["x"]) if isinstance(section["x"], list) else -1
    if n < 1:
        raise DamagedModel("'samples.x' must be a non-empty list of numbers")
    _numbers(section["x"], "samples.x", n)
    _numbers(section["y"], "samples.y", n)
    _numbers(section["observed"], "samples.observed", n)
    _strings(section["id"], "samples.id", n)
    _strings(section["role"], "samples.role", n, SAMPLE_ROLES)
    factors = section["factors"]
    if not isinstance(factors, list) or len(factors) != n:
        raise DamagedModel(f"'samples.factors' must have {n} rows")
    for index, row in enumerate(factors):
        _numbers(row, f"samples.factors[{index}]", n_inputs)
    return dict(section)


def _cv_section(section, samples):
    """The validated 'cv' dict (SCHEMA: scheme, folds, fold, prediction, residual, metrics) or None."""
    if _optional_object(section, "cv") is None:
        return None
    if samples is None:
        raise DamagedModel("'cv' needs the 'samples' section it refers to")
    n = len(samples["x"])
    if section.get("scheme") not in CV_SCHEMES:
        raise DamagedModel(f"'cv.scheme' must be one of {', '.join(CV_SCHEMES)}")
    folds = section.get("folds")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise DamagedModel("'cv.folds' must be a whole number >= 2")
    fold = _numbers(section.get("fold"), "cv.fold", n)
    if np.any(fold != np.round(fold)) or np.any(fold < 0) or np.any(fold >= folds):
        raise DamagedModel(f"'cv.fold' must hold fold indices 0 to {folds - 1}")
    _numbers(section.get("prediction"), "cv.prediction", n)
    _numbers(section.get("residual"), "cv.residual", n)
    for key in ("metrics", "mean_metrics", "mlr_metrics"):
        if not isinstance(section.get(key), dict):
            raise DamagedModel(f"'cv.{key}' must be an object")
    return dict(section)
