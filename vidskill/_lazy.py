"""Package attributes imported on first use (PEP 562), so importing a package stays cheap.

`import vidskill` must not load FAISS, OpenCV or torch: `vidskill info` and the shells that
only need a value class would pay for them. A package lists what it re-exports and from
which module; the module is imported the first time one of its names is read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package` re-exporting name -> "module" lazily."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
