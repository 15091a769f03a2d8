"""One transaction per run: every output is written under a hidden temporary name beside its
target and moved into place only when the whole run succeeded; on any failure nothing is left.

A staged file is named '.partial-<pid>-<hex>.<final name>' in the target's folder, so every file
derived from it (a raster's .aux.xml, a report's figure JSON, a writer's own temporary) carries
the same prefix: commit() strips the prefix from all of them, abort() deletes all of them, and
clean_stale() deletes those left by a run that was killed (its process no longer exists).
"""

import os
import re
import uuid

from .errors import SoilMetalError

PREFIX = ".partial-"
_STAGED = re.compile(r"^\.partial-(\d+)-[0-9a-f]{8}\.")
_TOKEN_IN_TEXT = re.compile(r"\.partial-\d+-[0-9a-f]{8}\.")
# Temporary names of earlier versions (no process id): only a killed run of those leaves them.
_LEGACY = (re.compile(r"^\..+\.[0-9a-f]{8}\.partial\.tif$"),     # raster writer
           re.compile(r"^\..+\.[0-9a-f]{32}\.part$"),              # text/CSV/JSON writer
           re.compile(r"^.+\.json\.[0-9a-f]{32}\.tmp$"))           # model writer
RASTER_SIDECARS = (".aux.xml", ".ovr")
_FINAL = {}   # temporary path -> final path, for the runs in progress


def final_path(path):
    """The final path of a run's temporary output path (any other path is returned unchanged)."""
    if not path:
        return path
    return _FINAL.get(os.path.abspath(os.fspath(path)), path)


def final_names(text):
    """`text` with every staged prefix removed: a report or table written during a run names the
    run's other outputs as the user will find them, not by their temporary names."""
    if not isinstance(text, str) or PREFIX not in text:
        return text
    return _TOKEN_IN_TEXT.sub("", text)


def temporary_name(path, token=None):
    """A hidden temporary path beside `path`, in the staged naming (unique per call without token)."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    token = token or new_token()
    return os.path.join(folder, token + name)


def new_token():
    """A fresh '.partial-<pid>-<hex>.' prefix."""
    return f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}."


def is_temporary(path):
    """True when `path` already is a staged temporary name (writers then write it directly)."""
    return bool(_STAGED.match(os.path.basename(os.fspath(path))))


def replace_file(temporary, path):
    """Move a finished temporary file onto `path`; a raster's stale sidecars of an older file go."""
    if temporary.lower().endswith((".tif", ".tiff")):
        for suffix in RASTER_SIDECARS:
            if os.path.exists(path + suffix) and not os.path.exists(temporary + suffix):
                os.remove(path + suffix)
    os.replace(temporary, path)


def _pid_alive(pid):
    """True when a process with this id exists (or cannot be checked)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale(folder):
    """Delete temporaries of killed runs in `folder`: staged names whose process is gone, and the
    temporary names of earlier versions. Returns the names deleted."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _STAGED.match(name)
        stale = (not _pid_alive(int(match.group(1)))) if match else any(p.match(name) for p in _LEGACY)
        if stale:
            try:
                os.remove(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _existing_ancestor(folder):
    """The nearest folder (or file) on the way up from `folder` that exists."""
    current = folder
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def check_destination(name, path, extensions=(), kind="file"):
    """Why an output path cannot be written (a message naming the fix), or None when it can.

    extensions: the accepted endings (lower case, with the dot); a path with another ending is
    refused rather than silently written in a format its name does not say.
    """
    if not path:
        return None
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        return (f"{name}: '{path}' is a folder. Give a file name inside it, e.g. "
                f"'{os.path.join(path, 'output' + (extensions[0] if extensions else ''))}'.")
    extension = os.path.splitext(path)[1].lower()
    if extensions and extension not in extensions:
        wanted = " or ".join(extensions)
        shown = f"ends in '{extension}'" if extension else "has no extension"
        return (f"{name}: '{os.path.basename(path)}' {shown}, but this output is written as "
                f"{kind}. Use a name ending in {wanted}, e.g. "
                f"'{os.path.splitext(os.path.basename(path))[0]}{extensions[0]}'.")
    folder = os.path.dirname(path)
    ancestor = _existing_ancestor(folder)
    if not os.path.isdir(ancestor):
        return (f"{name}: Cannot create the output folder '{folder}': '{ancestor}' is a file, not a "
                "folder. Choose an output path in a folder you can write to.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        what = "write to the folder" if ancestor == folder else f"create '{folder}' in"
        return (f"{name}: cannot {what} '{ancestor}' (permission denied). Choose an output path "
                "in a folder you can write to.")
    return None


class OutputTransaction:
    """The outputs of one run: stage() gives each target its temporary name; commit() moves
    every file of the run into place, abort() deletes them (and folders the run created)."""

    def __init__(self):
        self.token = new_token()
        self.targets = {}          # final path -> temporary path
        self._folders = []
        self._created = []
        self.closed = False

    def stage(self, path):
        """The temporary path to write instead of `path`; creates its folder when missing."""
        final = os.path.abspath(os.fspath(path))
        if final in self.targets:
            return self.targets[final]
        folder = os.path.dirname(final)
        if not os.path.isdir(folder):
            missing = []
            current = folder
            while not os.path.exists(current):
                missing.append(current)
                current = os.path.dirname(current)
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as error:
                raise SoilMetalError(f"Cannot create the output folder '{folder}': "
                                     f"{error.strerror or error}. Choose an output path in a "
                                     "folder you can write to.") from None
            self._created.extend(missing)
        if folder not in self._folders:
            self._folders.append(folder)
            clean_stale(folder)
        temporary = os.path.join(folder, self.token + os.path.basename(final))
        self.targets[final] = temporary
        _FINAL[temporary] = final
        return temporary

    def files(self):
        """Every file this run wrote under its temporary prefix: [(temporary, final)]."""
        found = []
        for folder in self._folders:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if name.startswith(self.token):
                    found.append((os.path.join(folder, name), os.path.join(folder, name[len(self.token):])))
        return found

    def final_text(self, text):
        """`text` with every temporary path (or name) replaced by its final one: a staged name is
        the final name behind this run's token, so removing the token is the whole mapping."""
        if not isinstance(text, str) or self.token not in text:
            return text
        return final_names(text)

    def _forget(self):
        """Drop this run's temporaries from the final_path registry."""
        for temporary in self.targets.values():
            _FINAL.pop(temporary, None)

    def commit(self):
        """Move every file of the run into place; on a failure nothing of the run is left."""
        if self.closed:
            return
        moved = []
        try:
            # Sidecars (names longer than their raster's) first, so a raster never appears
            # without them, and the targets themselves last.
            for temporary, final in sorted(self.files(), key=lambda item: -len(item[0])):
                replace_file(temporary, final)
                moved.append(final)
        except OSError as error:
            for final in moved:
                try:
                    os.remove(final)
                except OSError:
                    pass
            self.abort()
            self._forget()
            raise SoilMetalError(f"Cannot move the outputs into place: {error.strerror or error} "
                                 f"('{getattr(error, 'filename', '')}'). Nothing was written; check "
                                 "that the output folders are writable and run again.") from None
        self._forget()
        self.closed = True

    def abort(self):
        """Delete every file of the run and the folders it created (when left empty)."""
        for temporary, _ in self.files():
            try:
                os.remove(temporary)
            except OSError:
                pass
        for folder in sorted(self._created, key=len, reverse=True):
            try:
                os.rmdir(folder)
            except OSError:
                pass
        self._forget()
        self.closed = True
