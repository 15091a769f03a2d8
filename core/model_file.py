"""The trained model (an ensemble of GA-BP networks plus its scaling) and its JSON model file.

A model file is JSON, never pickle: loading one runs no code, and every value is validated
before it is used. save_model writes sorted keys and Python's shortest round-trip float repr,
so the same model always gives the same bytes (a model trained twice with the same inputs and
seed is byte-identical). See network.py for the layout of each member's parameter vector.
"""

import hashlib
import json
import math
import os
import uuid
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .errors import SoilMetalError
from .science.network import forward, minmax_apply, minmax_invert, n_params

FORMAT = "soilmetal-model"
# Version 2 (soilmetal 0.2.0) adds the optional "samples" and "cv" sections (SCHEMA: the
# samples a model was given, and its cross-validation); version-1 files still load, with both
# None, and what needs them stops with require_samples / require_cv's message. The optional
# "sensor" text (the SENSOR of the factor rasters the model was fitted on, e.g. 'Landsat 8 OLI';
# absent when unknown) needs no new version: files without it load with sensor ''.
FORMAT_VERSION = 2
SAMPLES_CV_SINCE = "0.2.0"
CV_SCHEMES = ("spatial", "random", "leave-one-out")
SAMPLE_ROLES = ("train", "validation")
PARAMETER_LAYOUT = "theta = [W1 (H x L, row-major), b1 (H), w2 (H), b2 (1)]"
CHOOSE_MODEL_HINT = ("choose the .json written by 'Train GA-BP model' or "
                     "'Transfer GA-BP model (Tr-GA-BP)'")
REQUIRED_KEYS = ("format", "format_version", "factor_names", "hidden", "log_target",
                 "x_min", "x_max", "y_min", "y_max", "members", "factor_ranges")


@dataclass
class Model:
    """A trained GA-BP / Tr-GA-BP ensemble: K networks that share one input and target scaling.

    The target scaling (y_min, y_max) is of log(content) when log_target is True.
    factor_ranges maps each factor to the [min, max] of the samples the model was fitted on;
    predictions outside it are extrapolation. provenance records where a transferred model
    came from (source model SHA-256, beta, samples used); curves holds one dict of training
    curves per member for the report.
    """

    factor_names: list
    x_min: np.ndarray
    x_max: np.ndarray
    y_min: float
    y_max: float
    members: list
    hidden: int = 4
    log_target: bool = False
    metal: str = ""
    method: str = "GA-BP"
    seed: int = 0
    settings: dict = field(default_factory=dict)
    training_metrics: dict = field(default_factory=dict)
    factor_ranges: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    curves: list = field(default_factory=list)
    samples: Optional[dict] = None
    cv: Optional[dict] = None
    sensor: str = ""

    def __post_init__(self):
        self.factor_names = [str(name) for name in self.factor_names]
        self.x_min = np.asarray(self.x_min, dtype=float).reshape(-1)
        self.x_max = np.asarray(self.x_max, dtype=float).reshape(-1)
        self.y_min = float(self.y_min)
        self.y_max = float(self.y_max)
        self.hidden = int(self.hidden)
        self.members = [np.asarray(theta, dtype=float).reshape(-1) for theta in self.members]
        if not self.factor_ranges:
            self.factor_ranges = {name: [float(lo), float(hi)] for name, lo, hi
                                  in zip(self.factor_names, self.x_min, self.x_max)}
        expected = n_params(self.n_inputs, self.hidden)
        if len(self.x_min) != self.n_inputs or len(self.x_max) != self.n_inputs:
            raise ValueError("x_min/x_max must have one value per factor")
        if not self.members or any(theta.size != expected for theta in self.members):
            raise ValueError(f"every member needs {expected} parameters")

    @property
    def n_inputs(self):
        """Number of factors L."""
        return len(self.factor_names)

    @property
    def ensemble_size(self):
        """Number of member networks K."""
        return len(self.members)

    def _check_inputs(self, x):
        """x as a 2-D array (n, L); ValueError if the factor count is wrong."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected factor values of shape (n, {self.n_inputs}), got {x.shape}")
        return x

    def _member_outputs(self, x):
        """Yields each member's prediction (n,) in target units (log units when log_target)."""
        xs = minmax_apply(self._check_inputs(x), self.x_min, self.x_max)
        for theta in self.members:
            yield minmax_invert(forward(theta, xs), self.y_min, self.y_max)

    def predict_members(self, x):
        """Per-member predictions (K, n) in mg/kg for factor values x (n, L)."""
        outputs = np.array(list(self._member_outputs(x)))
        return np.exp(outputs) if self.log_target else outputs

    def predict(self, x):
        """Ensemble mean and spread (n,), (n,) in mg/kg for factor values x (n, L); NaN rows give NaN.

        mean: the mean of the members' predictions; with log_target it is exp(mean of the
        members' log predictions), i.e. the geometric mean (a median-type back-transform,
        without a bias correction). std: the population standard deviation (ddof=0) of the
        members' predictions in mg/kg; 0 for a single network.
        """
        log_centre = mean_value = spread_m2 = None
        # Running (Welford) sums keep memory at a few (n,) arrays for any ensemble size.
        for count, output in enumerate(self._member_outputs(x), start=1):
            value = np.exp(output) if self.log_target else output
            if count == 1:
                log_centre, mean_value, spread_m2 = output, value.copy(), np.zeros_like(value)
                continue
            delta = value - mean_value
            mean_value += delta / count
            spread_m2 += delta * (value - mean_value)
            if self.log_target:
                log_centre = log_centre + (output - log_centre) / count
        mean = np.exp(log_centre) if self.log_target else mean_value
        return mean, np.sqrt(spread_m2 / self.ensemble_size)

    def outside_training_range(self, x):
        """Boolean (n,): True where any factor of x (n, L) lies outside factor_ranges (extrapolation)."""
        x = self._check_inputs(x)
        ranges = np.array([self.factor_ranges[name] for name in self.factor_names], dtype=float)
        return np.any((x < ranges[:, 0]) | (x > ranges[:, 1]), axis=1)

    def to_dict(self):
        """The model as plain JSON-ready Python values (the model file's content)."""
        return _jsonable({
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "parameter_layout": PARAMETER_LAYOUT,
            "method": self.method,
            "metal": self.metal,
            "factor_names": list(self.factor_names),
            "hidden": self.hidden,
            "log_target": bool(self.log_target),
            "x_min": self.x_min,
            "x_max": self.x_max,
            "y_min": self.y_min,
            "y_max": self.y_max,
            "members": list(self.members),
            "seed": int(self.seed),
            "settings": self.settings,
            "training_metrics": self.training_metrics,
            "factor_ranges": self.factor_ranges,
            "provenance": self.provenance,
            "curves": self.curves,
            "samples": self.samples,
            "cv": self.cv,
            **({"sensor": self.sensor} if self.sensor else {}),
        })


def _jsonable(value):
    """Nested numpy/tuple values as JSON-ready Python values; NaN/inf (e.g. R2 of one sample) -> None."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def model_to_bytes(model):
    """The exact bytes save_model writes for model (deterministic: sorted keys, stable floats)."""
    content = model.to_dict()
    _model_from_dict(content)   # never write a file that load_model would refuse
    return (json.dumps(content, sort_keys=True, indent=1, allow_nan=False) + "\n").encode("utf-8")


def save_model(model, path):
    """Write model to path as JSON, atomically (temp file in the same folder, then replace)."""
    data = model_to_bytes(model)
    path = os.fspath(path)
    temp_path = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        # os.open with 0o666 lets the user's umask decide the final permissions.
        descriptor = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except OSError as exc:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise SoilMetalError(f"Cannot write the model file '{path}': {exc.strerror or exc}. "
                             "Choose a folder you can write to.") from exc


def file_sha256(path):
    """Hex SHA-256 of a file's bytes (recorded as a transferred model's source fingerprint)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Damaged(Exception):
    """Internal: what is wrong with a model dict (load_model turns it into a SoilMetalError)."""


def load_model(path):
    """Read and validate a model file; raises SoilMetalError naming the problem for a bad file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SoilMetalError(f"Cannot read the model file '{path}': {exc.strerror or exc}. "
                             f"Check the path, or {CHOOSE_MODEL_HINT}.") from exc
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
    except UnicodeDecodeError as exc:
        if b"\x00" not in raw and raw.lstrip()[:1] == b"{":
            raise SoilMetalError(f"'{path}' is not UTF-8 text (byte {exc.start} is not UTF-8; an "
                                 "editor may have saved it as Latin-1 or Windows-1252). Model files "
                                 "are UTF-8 JSON: save it again as UTF-8, or "
                                 f"{CHOOSE_MODEL_HINT}.") from None
        raise SoilMetalError(f"'{path}' is not a soilmetal model file (it is not a JSON text "
                             f"file); {CHOOSE_MODEL_HINT}.") from exc
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SoilMetalError(
            f"'{path}' is not a valid soilmetal model file: its JSON is broken at line "
            f"{exc.lineno}, column {exc.colno} ({exc.msg}); the file is truncated or was "
            f"edited. Train the model again, or {CHOOSE_MODEL_HINT}.") from exc
    except RecursionError as exc:
        raise SoilMetalError(f"'{path}' is not a soilmetal model file (nested too deeply); "
                             f"{CHOOSE_MODEL_HINT}.") from exc
    if not isinstance(content, dict) or "format" not in content:
        raise SoilMetalError(f"'{path}' is not a soilmetal model file (missing 'format'); "
                             f"{CHOOSE_MODEL_HINT}.")
    if content["format"] != FORMAT:
        raise SoilMetalError(f"'{path}' is not a soilmetal model file ('format' is "
                             f"{content['format']!r}, expected {FORMAT!r}); {CHOOSE_MODEL_HINT}.")
    version = content.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise SoilMetalError(f"The model file '{path}' was written by a newer soilmetal "
                             f"(format_version {version}; this version reads up to "
                             f"{FORMAT_VERSION}). Update the soilmetal plugin.")
    try:
        return _model_from_dict(content)
    except _Damaged as exc:
        raise SoilMetalError(f"The model file '{path}' is damaged or was edited: {exc}. "
                             f"Train the model again, or {CHOOSE_MODEL_HINT}.") from None


def _numbers(value, name, length=None):
    """value as a finite float array (n,), else _Damaged naming the key and the problem."""
    if not isinstance(value, list) or any(isinstance(item, (bool, str, list, dict)) or item is None
                                          for item in value):
        raise _Damaged(f"'{name}' must be a list of numbers")
    try:
        array = np.asarray(value, dtype=float)
    except (OverflowError, ValueError):
        raise _Damaged(f"'{name}' holds a number out of range") from None
    if length is not None and array.size != length:
        raise _Damaged(f"'{name}' has {array.size} values, expected {length}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise _Damaged(f"'{name}' value {int(bad[0])} is not a finite number ({array[bad[0]]})")
    return array


def _number(value, name):
    """value as a finite float, else _Damaged."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, (bool, str)) or not math.isfinite(number):
        raise _Damaged(f"'{name}' must be a finite number, found {value!r}")
    return number


def _model_from_dict(content):
    """Validate a parsed model file and build the Model; raises _Damaged describing the problem."""
    missing = [key for key in REQUIRED_KEYS if key not in content]
    if missing:
        raise _Damaged(f"missing {', '.join(repr(key) for key in missing)}")
    version = content["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Damaged(f"'format_version' must be a whole number >= 1, found {version!r}")

    names = content["factor_names"]
    if (not isinstance(names, list) or not names
            or not all(isinstance(name, str) and name.strip() for name in names)):
        raise _Damaged("'factor_names' must be a non-empty list of factor names")
    if len(set(names)) != len(names):
        raise _Damaged("'factor_names' lists a factor twice")
    n_inputs = len(names)
    hidden = content["hidden"]
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise _Damaged(f"'hidden' must be a whole number >= 1, found {hidden!r}")
    if not isinstance(content["log_target"], bool):
        raise _Damaged("'log_target' must be true or false")

    x_min = _numbers(content["x_min"], "x_min", n_inputs)
    x_max = _numbers(content["x_max"], "x_max", n_inputs)
    if np.any(x_min > x_max):
        raise _Damaged("'x_min' is larger than 'x_max' for "
                       f"{names[int(np.flatnonzero(x_min > x_max)[0])]}")
    y_min = _number(content["y_min"], "y_min")
    y_max = _number(content["y_max"], "y_max")
    if y_min > y_max:
        raise _Damaged("'y_min' is larger than 'y_max'")

    members = content["members"]
    if not isinstance(members, list) or not members:
        raise _Damaged("'members' must be a non-empty list of weight vectors")
    expected = n_params(n_inputs, hidden)
    thetas = []
    for index, theta in enumerate(members):
        if not isinstance(theta, list) or len(theta) != expected:
            found = len(theta) if isinstance(theta, list) else type(theta).__name__
            raise _Damaged(f"member {index} has {found} weights and thresholds, expected "
                           f"{expected} for {n_inputs} factors and {hidden} hidden neurons")
        thetas.append(_numbers(theta, f"members[{index}]", expected))

    ranges = content["factor_ranges"]
    if not isinstance(ranges, dict) or set(ranges) != set(names):
        raise _Damaged("'factor_ranges' must give [min, max] for exactly the factors in "
                       "'factor_names'")
    factor_ranges = {}
    for name in names:
        low, high = _numbers(ranges[name], f"factor_ranges[{name}]", 2)
        if low > high:
            raise _Damaged(f"'factor_ranges' of {name} has min > max")
        factor_ranges[name] = [float(low), float(high)]

    optional_types = {"metal": str, "method": str, "settings": dict, "training_metrics": dict,
                      "provenance": dict, "curves": list, "sensor": str}
    for key, kind in optional_types.items():
        if key in content and not isinstance(content[key], kind):
            raise _Damaged(f"'{key}' must be a {kind.__name__}")
    seed = content.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _Damaged(f"'seed' must be a whole number, found {seed!r}")

    samples = _samples_section(content.get("samples"), n_inputs)
    cv = _cv_section(content.get("cv"), samples)

    return Model(factor_names=names, x_min=x_min, x_max=x_max, y_min=y_min, y_max=y_max,
                 members=thetas, hidden=hidden, log_target=content["log_target"],
                 metal=content.get("metal", ""), method=content.get("method", "GA-BP"),
                 seed=seed, settings=content.get("settings", {}),
                 training_metrics=content.get("training_metrics", {}),
                 factor_ranges=factor_ranges, provenance=content.get("provenance", {}),
                 curves=content.get("curves", []), samples=samples, cv=cv,
                 sensor=content.get("sensor", ""))


def _strings(value, name, length, allowed=None):
    """value as a list of length strings (from allowed when given), else _Damaged."""
    if not isinstance(value, list) or len(value) != length \
            or not all(isinstance(item, str) for item in value):
        raise _Damaged(f"'{name}' must be a list of {length} texts")
    if allowed is not None and any(item not in allowed for item in value):
        raise _Damaged(f"'{name}' values must be one of {', '.join(allowed)}")
    return list(value)


def _samples_section(section, n_inputs):
    """The validated 'samples' dict (SCHEMA: crs, x, y, id, factors, observed, role) or None."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise _Damaged("'samples' must be an object")
    missing = [key for key in ("crs", "x", "y", "id", "factors", "observed", "role")
               if key not in section]
    if missing:
        raise _Damaged(f"'samples' lacks {', '.join(repr(key) for key in missing)}")
    if not isinstance(section["crs"], str):
        raise _Damaged("'samples.crs' must be a text (WKT)")
    n = len(section["x"]) if isinstance(section["x"], list) else -1
    if n < 1:
        raise _Damaged("'samples.x' must be a non-empty list of numbers")
    _numbers(section["x"], "samples.x", n)
    _numbers(section["y"], "samples.y", n)
    _numbers(section["observed"], "samples.observed", n)
    _strings(section["id"], "samples.id", n)
    _strings(section["role"], "samples.role", n, SAMPLE_ROLES)
    factors = section["factors"]
    if not isinstance(factors, list) or len(factors) != n:
        raise _Damaged(f"'samples.factors' must have {n} rows")
    for index, row in enumerate(factors):
        _numbers(row, f"samples.factors[{index}]", n_inputs)
    return dict(section)


def _cv_section(section, samples):
    """The validated 'cv' dict (SCHEMA: scheme, folds, fold, prediction, residual, metrics) or None."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise _Damaged("'cv' must be an object")
    if samples is None:
        raise _Damaged("'cv' needs the 'samples' section it refers to")
    n = len(samples["x"])
    if section.get("scheme") not in CV_SCHEMES:
        raise _Damaged(f"'cv.scheme' must be one of {', '.join(CV_SCHEMES)}")
    folds = section.get("folds")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise _Damaged("'cv.folds' must be a whole number >= 2")
    fold = _numbers(section.get("fold"), "cv.fold", n)
    if np.any(fold != np.round(fold)) or np.any(fold < 0) or np.any(fold >= folds):
        raise _Damaged(f"'cv.fold' must hold fold indices 0 to {folds - 1}")
    _numbers(section.get("prediction"), "cv.prediction", n)
    _numbers(section.get("residual"), "cv.residual", n)
    for key in ("metrics", "mean_metrics", "mlr_metrics"):
        if not isinstance(section.get(key), dict):
            raise _Damaged(f"'cv.{key}' must be an object")
    return dict(section)


def _retrain_message(model_name, feature):
    """The message for a model file written before samples/cv existed."""
    return (f"{model_name} was written before soilmetal {SAMPLES_CV_SINCE}: retrain it with "
            f"'Train GA-BP model' to get {feature}.")


def require_samples(model, feature, model_name="This model file"):
    """model.samples, or SoilMetalError naming the feature that needs it."""
    if model.samples is None:
        raise SoilMetalError(_retrain_message(model_name, feature))
    return model.samples


def require_cv(model, feature, model_name="This model file"):
    """model.cv, or SoilMetalError naming the feature (a file trained with CV = 0 says so)."""
    if model.cv is None:
        if model.samples is not None:
            raise SoilMetalError(
                f"{model_name} was trained without cross-validation (CV = 0), so it has no "
                f"out-of-fold residuals for {feature}. Train it again with CV = 2 (spatial) or "
                "1 (random).")
        raise SoilMetalError(_retrain_message(model_name, feature))
    return model.cv
