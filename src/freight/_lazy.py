"""Modules imported on first use.

``import freight`` and a small load of Python rows into PostgreSQL never touch pyarrow
(whose import, with numpy and the pandas it pulls in on its first conversion, costs a
short-lived process several times the load itself). Modules that use Arrow import it
through ``lazy("pyarrow")``: the real import happens at the first attribute access.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Lazy:
    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r}, {state}>"


def lazy(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on first attribute access."""
    return _Lazy(name)
