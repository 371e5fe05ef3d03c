"""The torch side: the base sentence-transformers model, its tokenized pairs, pooling and head.

Everything here imports torch lazily (inside functions) so ``import qcassist.finetune`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .inputs import split_input

HEAD = "head."  # prefix of the classification head's tensors in body.safetensors
BODY = "body."  # prefix of the transformer's tensors (names as in the HF model's state_dict)


@dataclass
class Base:
    """A freshly loaded base encoder: the HF model, its tokenizer, and the ids that identify it."""

    model: object  # transformers PreTrainedModel (mean-pooled like sentence-transformers)
    tokenizer: object
    spec: str  # what the user named: "default", a hub name, a local path
    id: str  # SentenceTransformerEncoder(spec).id


def load_base(spec: str, device: str) -> Base:
    """A fresh copy of the base encoder's weights (never a shared one: fine-tuning changes them)."""
    from ..embed import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(spec, device=device)
    st = encoder._load()  # the encoder's own resolution: packaged model verified, hub off unless allowed
    return Base(model=st[0].auto_model, tokenizer=st.tokenizer, spec=spec, id=encoder.id)


def resolve_device(device: str | None) -> str:
    from ..embed import torch_device

    return torch_device(device)


def transformer_layers(model) -> list | None:
    """The stack of transformer blocks (BERT-like ``encoder.layer``), or None for other architectures."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    return list(layers) if layers is not None else None


def freeze(model, tuned_layers: int) -> list[str]:
    """Train only the top ``tuned_layers`` blocks (all when 0, too many, or no block list); names of the trained tensors."""
    layers = transformer_layers(model)
    tune_all = tuned_layers <= 0 or layers is None or tuned_layers >= len(layers)
    for parameter in model.parameters():
        parameter.requires_grad = tune_all
    if not tune_all:
        for layer in layers[len(layers) - tuned_layers :]:
            for parameter in layer.parameters():
                parameter.requires_grad = True
    return [name for name, parameter in model.named_parameters() if parameter.requires_grad]


def frozen_modules(model, tuned_layers: int) -> list:
    """Modules whose weights stay fixed: kept in eval mode (no dropout) while the rest trains."""
    layers = transformer_layers(model)
    if tuned_layers <= 0 or layers is None or tuned_layers >= len(layers):
        return []
    return [model.embeddings, *layers[: len(layers) - tuned_layers]] if hasattr(model, "embeddings") else layers[: len(layers) - tuned_layers]


def make_head(model, n_codes: int):
    import torch

    dropout = getattr(model.config, "hidden_dropout_prob", 0.1)
    return torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(model.config.hidden_size, n_codes))


@dataclass
class Tokenized:
    """Word pieces of each input, with special tokens, unpadded."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None

    def lengths(self) -> np.ndarray:
        return np.array([len(ids) for ids in self.input_ids], dtype=np.int64)


def tokenize(tokenizer, values: Sequence[str], max_length: int) -> Tokenized:
    """Tokenize pair strings; over ``max_length`` the unit keeps its start, the context its END (nearest the unit)."""
    parts = [split_input(value) for value in values]
    input_ids: list[list[int] | None] = [None] * len(parts)
    type_ids: list[list[int] | None] = [None] * len(parts)
    pairs = [i for i, (context, _) in enumerate(parts) if context is not None]
    singles = [i for i, (context, _) in enumerate(parts) if context is None]
    for rows, paired in ((pairs, True), (singles, False)):
        if not rows:
            continue
        contexts, units = _fit(tokenizer, [parts[i] for i in rows], max_length, paired)
        encoded = tokenizer(contexts, units, truncation="longest_first", max_length=max_length) if paired else tokenizer(
            units, truncation=True, max_length=max_length
        )
        for j, row in enumerate(rows):
            input_ids[row] = encoded["input_ids"][j]
            if "token_type_ids" in encoded:
                type_ids[row] = encoded["token_type_ids"][j]
    has_types = all(t is not None for t in type_ids)
    return Tokenized(input_ids=input_ids, token_type_ids=type_ids if has_types else None)


def _fit(tokenizer, parts: list[tuple[str | None, str]], max_length: int, paired: bool) -> tuple[list[str], list[str]]:
    """Cut texts by word-piece offsets so the pair fits: unit first, the context gets what is left."""
    specials = tokenizer.num_special_tokens_to_add(pair=paired)
    units = [unit for _, unit in parts]
    unit_offsets = tokenizer(units, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    budget = max(1, max_length - specials)
    kept_units, room = [], []
    for unit, offsets in zip(units, unit_offsets):
        if len(offsets) > budget:
            unit = unit[: offsets[budget - 1][1]]
        kept_units.append(unit)
        room.append(budget - min(len(offsets), budget))
    if not paired:
        return [], kept_units
    contexts = [context or "" for context, _ in parts]
    context_offsets = tokenizer(contexts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    kept_contexts = []
    for context, offsets, free in zip(contexts, context_offsets, room):
        if len(offsets) > free:
            # free == 0 leaves one piece of context: longest_first then trims it with the pair's own rule
            context = context[offsets[-max(free, 1)][0] :]
        kept_contexts.append(context)
    return kept_contexts, kept_units


def batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Row indices grouped by length (little padding); with ``rng`` ties and batch order are shuffled."""
    tie_break = rng.permutation(len(lengths)) if rng is not None else np.arange(len(lengths))
    order = np.lexsort((tie_break, lengths))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    return groups


def collate(tokenized: Tokenized, rows: np.ndarray, pad_id: int, device: str) -> dict:
    """Padded tensors for ``rows``: input_ids, attention_mask (and token_type_ids where the model uses them)."""
    import torch

    width = max(len(tokenized.input_ids[i]) for i in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros((len(rows), width), dtype=np.int64)
    for j, i in enumerate(rows):
        n = len(tokenized.input_ids[i])
        ids[j, :n] = tokenized.input_ids[i]
        mask[j, :n] = 1
        if tokenized.token_type_ids is not None:
            types[j, :n] = tokenized.token_type_ids[i]
    batch = {"input_ids": torch.from_numpy(ids).to(device), "attention_mask": torch.from_numpy(mask).to(device)}
    if tokenized.token_type_ids is not None:
        batch["token_type_ids"] = torch.from_numpy(types).to(device)
    return batch


def pooled(model, batch: dict):
    """Mean of the last hidden state over real tokens, as sentence-transformers pools (before normalizing)."""
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


# --- the frozen bottom, computed once ----------------------------------------------------
# With the embeddings and lower layers frozen (and in eval mode, so without dropout) their
# output for a given input never changes: train_body computes it once and each epoch runs
# only the tuned top layers. On 2 CPU cores this takes about a quarter off a 3-epoch run.

CACHE_LIMIT_BYTES = 2 * 1024**3  # above this the bottom is recomputed each batch instead


def bottom_size(model, tuned_layers: int) -> int:
    """How many lower transformer blocks are frozen (0: nothing to cache)."""
    layers = transformer_layers(model)
    if layers is None or tuned_layers <= 0 or tuned_layers >= len(layers) or not hasattr(model, "embeddings"):
        return 0
    return len(layers) - tuned_layers


@contextmanager
def only_layers(model, start: int, stop: int, given=None):
    """Run ``model`` through blocks [start, stop) only; with ``given``, its embeddings module is replaced by it."""
    import torch

    encoder, embeddings = model.encoder, model.embeddings
    every = encoder.layer
    encoder.layer = torch.nn.ModuleList(list(every)[start:stop])
    if given is not None:
        model.embeddings = given
    try:
        yield
    finally:
        encoder.layer = every
        model.embeddings = embeddings


def given_states():
    """A stand-in for the embeddings module that returns the hidden states it was last handed."""
    import torch

    class Given(torch.nn.Module):
        value = None

        def forward(self, *args, **kwargs):
            return self.value

    return Given()


def bottom_states(model, tokenized: Tokenized, rows: np.ndarray, n_bottom: int, pad_id: int, device: str,
                  report: Callable[[int], None] | None = None) -> dict:
    """Each row's hidden states after the frozen bottom, unpadded: {row: (length, dim) tensor on ``device``}."""
    import torch

    states = {}
    model.eval()
    with torch.no_grad(), only_layers(model, 0, n_bottom):  # not inference_mode: the states feed autograd later
        for chunk in batches(tokenized.lengths()[rows], 64, None):
            selected = rows[chunk]
            batch = collate(tokenized, selected, pad_id, device)
            hidden = model(**batch).last_hidden_state
            for j, row in enumerate(selected):
                states[int(row)] = hidden[j, : len(tokenized.input_ids[row])].clone()
            if report is not None:
                report(len(states))
    return states


def top_pooled(model, given, states: dict, rows: np.ndarray, n_bottom: int, device: str):
    """Mean-pooled output of the tuned top blocks for ``rows``, starting from their cached bottom states."""
    import torch

    parts = [states[int(row)] for row in rows]
    width = max(len(p) for p in parts)
    hidden = torch.zeros((len(parts), width, parts[0].shape[1]), dtype=parts[0].dtype, device=device)
    mask = torch.zeros((len(parts), width), dtype=torch.int64, device=device)
    for j, part in enumerate(parts):
        hidden[j, : len(part)] = part
        mask[j, : len(part)] = 1
    given.value = hidden
    with only_layers(model, n_bottom, len(model.encoder.layer), given):
        return pooled(model, {"input_ids": mask, "attention_mask": mask})
