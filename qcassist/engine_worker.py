"""The worker side of the Dask engine: the encoder, loaded once per worker process, and the batch task.

Imported by the coordinator only when ``--engine dask`` runs (it needs ``distributed``), and by
each worker process when the plugin or a task arrives.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

from .engine import EncoderSpec, EngineError, build_encoder

# encoder id -> the encoder, in this worker process; set up by EncoderPlugin, used by every task
_LOADED: dict = {}
_LOADS: Counter = Counter()  # encoder id -> times built in this process (tests check "once")


class EncoderPlugin(WorkerPlugin):
    """Rebuilds the coordinator's encoder from its spec when attached to a worker, and drops it when removed."""

    def __init__(self, spec: EncoderSpec):
        self.spec = spec

    def setup(self, worker) -> None:
        if self.spec.id not in _LOADED:
            encoder = build_encoder(self.spec)
            encoder.encode(["warm up"])  # load the weights now, not inside the first batch
            _LOADED[self.spec.id] = encoder
            _LOADS[self.spec.id] += 1

    def teardown(self, worker) -> None:
        _LOADED.pop(self.spec.id, None)


def encode_batch(encoder_id: str, texts: list[str]) -> np.ndarray:
    """One batch of texts in, one float32 row per text out, with the encoder this worker loaded."""
    encoder = _LOADED.get(encoder_id)
    if encoder is None:
        raise EngineError(f"this worker has not loaded the encoder {encoder_id}; the scheduler sent it a batch "
                          "before the qcassist plugin was set up.")
    return np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)


def loads() -> dict[str, int]:
    """How often each encoder was built in this worker process."""
    return dict(_LOADS)
