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
from .model_schema import FORMAT, FORMAT_VERSION, PARAMETER_LAYOUT, DamagedModel, model_fields
from .science.ensemble import ensemble_moments, factors_outside
from .science.network import forward, minmax_apply, minmax_invert, n_params

# The version that added the samples and cv sections (model_schema.FORMAT_VERSION 2).
SAMPLES_CV_SINCE = "0.2.0"
CHOOSE_MODEL_HINT = ("choose the .json written by 'Train GA-BP model' or "
                     "'Transfer GA-BP model (Tr-GA-BP)'")


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
        members' predictions in mg/kg; 0 for a single network (NaN on its NaN rows).
        """
        mean, std, _ = ensemble_moments(self._member_outputs(x), self.log_target)
        return mean, std

    def outside_training_range(self, x):
        """Boolean (n,): True where any factor of x (n, L) lies outside factor_ranges (extrapolation)."""
        low, high = self.training_ranges()
        return factors_outside(self._check_inputs(x).T, low, high) > 0

    def training_ranges(self):
        """(low, high) (L,): each factor's range at the samples the model was fitted on."""
        ranges = np.array([self.factor_ranges[name] for name in self.factor_names], dtype=np.float64)
        return ranges[:, 0], ranges[:, 1]

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
    model_from_dict(content)   # never write a file that load_model would refuse
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


def model_from_dict(content):
    """The Model of a parsed model file, every value validated; DamagedModel naming the problem."""
    return Model(**model_fields(content))


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
        return model_from_dict(content)
    except DamagedModel as exc:
        raise SoilMetalError(f"The model file '{path}' is damaged or was edited: {exc}. "
                             f"Train the model again, or {CHOOSE_MODEL_HINT}.") from None


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
