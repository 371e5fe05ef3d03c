"""qcassist: assisted qualitative coding of interview transcripts."""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# The re-exports are loaded on first use, not here: every `qcassist` command imports this package
# before its entry point can catch Ctrl-C (qcassist/__main__.py), so importing nothing here keeps a
# Ctrl-C at start-up inside that catch (one line, exit 130) instead of a traceback.
_EXPORTS = {
    "ConflictError": "errors", "InputError": "errors", "ProjectError": "errors", "QcaError": "errors",
    "Code": "model", "Codebook": "model", "Coding": "model", "MeaningUnit": "model", "Transcript": "model",
    "Turn": "model", "SegmentOptions": "segment", "segment": "segment", "Store": "store",
}

if TYPE_CHECKING:  # what type checkers and IDEs see
    from .errors import ConflictError, InputError, ProjectError, QcaError
    from .model import Code, Codebook, Coding, MeaningUnit, Transcript, Turn
    from .segment import SegmentOptions, segment
    from .store import Store

__version__ = "0.1.0"

__all__ = [
    "Code", "Codebook", "Coding", "ConflictError", "InputError", "MeaningUnit", "ProjectError",
    "QcaError", "SegmentOptions", "Store", "Transcript", "Turn", "segment", "__version__",
]


class _Package(types.ModuleType):
    """Keeps ``qcassist.segment`` the function, as when it was imported eagerly: importing the submodule
    ``qcassist.segment`` would otherwise bind the module under that name, whatever was asked first."""

    def __setattr__(self, name: str, value: Any) -> None:
        if _EXPORTS.get(name) == name and isinstance(value, types.ModuleType):
            return  # the same-named function is loaded on first use instead (__getattr__)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its module the first time it is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qcassist' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
