"""qcassist: assisted qualitative coding of interview transcripts."""

from __future__ import annotations

from .errors import ConflictError, InputError, ProjectError, QcaError
from .model import Code, Codebook, Coding, MeaningUnit, Transcript, Turn
from .segment import SegmentOptions, segment
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "Code", "Codebook", "Coding", "ConflictError", "InputError", "MeaningUnit", "ProjectError",
    "QcaError", "SegmentOptions", "Store", "Transcript", "Turn", "segment", "__version__",
]
