"""How a script trial runs in a warm worker.

The contract: a script trial behaves exactly as ``python script.py --name value ...`` would in a fresh
process, except that it starts faster. What a warm worker keeps and what it runs afresh:

* **Kept warm** (imported once per worker): modules from outside the script's folder and the launch
  folder, i.e. installed packages such as numpy, pandas, scikit-learn or XGBoost, and the values of
  ``trial.cached``. The script's top-level imports of such modules are imported when the worker starts.
* **Run afresh for every trial**: the script itself (as ``__main__``) and every module found in the
  script's folder or the launch folder (and their subfolders), such as a ``settings.py`` that parses
  ``sys.argv`` at import or a ``config.py`` with module-level state. They are dropped from
  ``sys.modules`` before and after each trial, so each trial imports them again with its own arguments.
* As Python does for ``python script.py``: ``sys.argv`` is ``[script, --name, value, ...]`` and
  ``sys.path[0]`` is the script's folder while the trial runs; both are restored afterwards.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.machinery
import os
import runpy
import site
import sys
import sysconfig
from collections.abc import Iterator
from types import ModuleType

import jupyter_hpo

__all__ = ["ScriptRunner"]


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _installed_roots() -> tuple[str, ...]:
    """Folders whose modules are never the user's own code: the interpreter's, site-packages, jupyter_hpo."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(jupyter_hpo.__file__)}
    roots.update(p for p in sysconfig.get_paths().values() if p)
    with contextlib.suppress(Exception):  # site may be stripped down in embedded interpreters
        roots.add(site.getusersitepackages())
    return tuple(sorted({_real(r) for r in roots}))


def _module_files(module: ModuleType) -> Iterator[str]:
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        yield file
    spec = getattr(module, "__spec__", None)
    for location in getattr(spec, "submodule_search_locations", None) or ():  # namespace packages
        if isinstance(location, str):
            yield location


def top_level_imports(path: str) -> list[str]:
    """The absolute modules a script imports at its top level (``import a.b`` -> ``a.b``), in order."""
    try:
        with open(path, "rb") as f:  # bytes: Python honours the script's own coding line
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return []  # the trial itself will report the problem
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


class ScriptRunner:
    """Runs one training script trial after trial in this process, under the contract of the module docstring.

    Example:
        >>> runner = ScriptRunner("train.py")  # doctest: +SKIP
        >>> runner.preload()  # doctest: +SKIP
        >>> runner.run(["train.py", "--eta", "0.1"])  # doctest: +SKIP
    """

    def __init__(self, path: str, launch_dir: str | None = None) -> None:
        self.path = os.path.abspath(path)
        self.folder = os.path.dirname(os.path.realpath(self.path))
        user = {_real(self.folder), _real(launch_dir or os.getcwd())}
        self._installed = _installed_roots()
        # a user folder that holds the interpreter (a project with its .venv inside) still counts as the
        # user's: _is_local checks the installed roots first
        self._user = tuple(sorted(user))
        # each module's verdict by its files: forget_local_modules runs twice a trial over every loaded module
        # (1,500 with XGBoost and pandas), and resolving their paths each time cost ~50 ms a call
        self._verdicts: dict[tuple[str, ...], bool] = {}

    def is_local(self, module: ModuleType) -> bool:
        """Whether ``module`` is the user's own code (re-imported by every trial) rather than an installed one.

        Decided once per set of files (a module's ``__file__`` and namespace folders), then remembered.
        """
        files = tuple(_module_files(module))
        verdict = self._verdicts.get(files)
        if verdict is None:
            verdict = self._verdicts[files] = self._judge(files)
        return verdict

    def _judge(self, files: tuple[str, ...]) -> bool:
        for file in files:
            real = _real(file)
            if any(_within(real, root) for root in self._installed):
                return False
            if any(_within(real, folder) for folder in self._user):
                return True
        return False

    def _found_locally(self, name: str) -> bool:
        top = name.partition(".")[0]
        return importlib.machinery.PathFinder.find_spec(top, list(self._user)) is not None

    def preload(self) -> list[str]:
        """Import the script's top-level imports of installed modules; returns the names imported.

        The user's own modules are skipped (each trial imports them itself). A module that fails to import,
        even by ``SystemExit``, is skipped: the trial then meets the same error and reports it.
        """
        loaded = []
        saved_argv = sys.argv
        sys.argv = [self.path]  # what `python script.py` would show a module imported before parsing
        try:
            for name in top_level_imports(self.path):
                if self._found_locally(name):
                    continue
                try:
                    importlib.import_module(name)
                except KeyboardInterrupt:
                    raise
                except BaseException:  # noqa: BLE001,S112 - the trial will report it
                    continue
                loaded.append(name)
        finally:
            sys.argv = saved_argv
            self.forget_local_modules()
        return loaded

    def forget_local_modules(self) -> list[str]:
        """Drop the user's own modules from ``sys.modules`` so that the next import runs them afresh."""
        names = [n for n, m in list(sys.modules.items()) if m is not None and n != "__main__" and self.is_local(m)]
        for name in names:
            sys.modules.pop(name, None)
        return names

    def run(self, argv: list[str]) -> None:
        """Run the script as ``__main__`` with ``argv``, as ``python script.py ARGS`` would."""
        self.forget_local_modules()
        importlib.invalidate_caches()  # a helper edited since the last trial is read again
        saved_argv, saved_path = sys.argv, list(sys.path)
        sys.argv = list(argv)
        sys.path.insert(0, self.folder)
        try:
            runpy.run_path(self.path, run_name="__main__")
        finally:
            sys.argv = saved_argv
            sys.path[:] = saved_path
            self.forget_local_modules()
