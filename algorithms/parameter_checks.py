"""Checks of parameter values before a run, for what QGIS accepts silently or reports without
a way out: a text given twice, a number out of range, an unreadable raster, an output that
cannot be written. Each returns the message of the first problem, or None."""

import os
import re

from .compat import NUMBER_INTEGER, SOURCE_RASTER
from ..core.outputs import check_destination
from ..core.raster_io import unreadable_raster


def _plain(number):
    """A range bound as people write it: 100000, 2147483647, 0.9, 1e-09."""
    return str(int(number)) if number == int(number) and abs(number) < 1e15 else f"{number:g}"


def repeated_strings(algorithm, parameters):
    """A message for a text parameter given more than once (qgis_process turns KEY=a KEY=b
    into a list, which would otherwise be read as empty: 'all factors')."""
    for parameter in algorithm.parameterDefinitions():
        value = parameters.get(parameter.name())
        if parameter.type() == "string" and isinstance(value, (list, tuple)):
            return algorithm.tr(
                "{name} was given {count} times. Give it once, with the values comma-separated: "
                "{name}={values}").format(name=parameter.name(), count=len(value),
                                          values=",".join(str(v) for v in value))
    return None


def _as_number(value):
    """(is a literal to check, its float or None when not a number) of a number parameter's value."""
    if value is None or isinstance(value, bool):
        return False, None
    if isinstance(value, str):
        if not value.strip():
            return False, None
        try:
            return True, float(value)
        except ValueError:
            return True, None
    if isinstance(value, (int, float)):
        return True, float(value)
    return False, None  # an expression or model input: QGIS evaluates it


def _allowed_numbers(parameter):
    """What a number parameter allows, in words: 'a whole number from 1 to 100'."""
    integer = parameter.dataType() == NUMBER_INTEGER
    low, high = parameter.minimum(), parameter.maximum()
    bounds = [f"at least {_plain(low)}" if low > -1e300 else "",
              f"at most {_plain(high)}" if high < 1e300 else ""]
    kind = "a whole number" if integer else "a number"
    if all(bounds):
        return f"{kind} from {_plain(low)} to {_plain(high)}"
    return f"{kind} {' '.join(b for b in bounds if b)}" if any(bounds) else kind


def out_of_range(algorithm, parameters):
    """A message, with the allowed range, for a number parameter outside its range or not a
    number (QGIS 3.22 says only 'Incorrect parameter value')."""
    for parameter in algorithm.parameterDefinitions():
        if parameter.type() != "number":
            continue
        value = parameters.get(parameter.name())
        literal, number = _as_number(value)
        if not literal:
            continue
        integer = parameter.dataType() == NUMBER_INTEGER
        if number is None or number != number or abs(number) == float("inf") or \
                (integer and number != int(number)) or number < parameter.minimum() or \
                number > parameter.maximum():
            return algorithm.tr("{name} ({description}): '{value}' is not allowed; give {allowed}.").format(
                name=parameter.name(), description=parameter.description(), value=value,
                allowed=_allowed_numbers(parameter))
    return None


def unreadable_inputs(algorithm, parameters):
    """A message for the first raster input file that is missing, empty or not a raster."""
    for parameter in algorithm.parameterDefinitions():
        if parameter.type() not in ("raster", "multilayer"):
            continue
        if parameter.type() == "multilayer" and parameter.layerType() != SOURCE_RASTER:
            continue
        value = parameters.get(parameter.name())
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if not isinstance(item, str) or not item.strip():
                continue
            path = item.split("|")[0]
            # Only what looks like a file path: layer ids and names are QGIS's to resolve.
            if os.sep not in path and not os.path.exists(path):
                continue
            problem = unreadable_raster(path)
            if problem:
                return f"{parameter.name()}: {problem}"
    return None


def destinations(algorithm, parameters, context):
    """(parameter, final path) of every destination the run will write."""
    found = []
    for parameter in algorithm.destinationParameterDefinitions():
        value = parameters.get(parameter.name())
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        path = algorithm.parameterAsFileOutput(parameters, parameter.name(), context)
        if path:
            found.append((parameter, path))
    return found


def _expected_file(parameter):
    """(extensions, 'a GeoTIFF' or 'a CSV file'...) a destination parameter's path must have."""
    if parameter.type() == "rasterDestination":
        return (".tif", ".tiff"), "a GeoTIFF"
    extensions = tuple(sorted({e.lower() for e in
                               re.findall(r"\*(\.[A-Za-z0-9]+)", parameter.fileFilter())}))
    label = parameter.fileFilter().split("(")[0].strip() or "file"
    return extensions, "a " + (label[:-1] if label.endswith("files") else label)


def unwritable_outputs(algorithm, parameters, context):
    """A message for the first output path that cannot be written, or None."""
    seen = {}
    for parameter, path in destinations(algorithm, parameters, context):
        extensions, kind = _expected_file(parameter)
        problem = check_destination(parameter.name(), path, extensions, kind)
        if problem:
            return problem
        final = os.path.abspath(path)
        if final in seen:
            return algorithm.tr("{name} and {other} are the same file '{path}'. Give each output "
                                "its own file name.").format(name=parameter.name(), other=seen[final],
                                                             path=path)
        seen[final] = parameter.name()
    return None


def input_problem(algorithm, parameters):
    """The first problem of the input values (repeated text, number, raster file), or None."""
    return (repeated_strings(algorithm, parameters) or out_of_range(algorithm, parameters)
            or unreadable_inputs(algorithm, parameters))
