"""train_body: fine-tune the top of a sentence-transformers model with a classification head.

The unit and its context go in as one pair string (``pair_input``). Exclusive codebooks
train a softmax over the codes on rows that have their one code; multi-label codebooks a
sigmoid per code, with unknown (-1) entries masked out and 0 (e.g. a reviewer's
rejection) kept as a negative. With ``objective="contrastive"`` the body learns from pairs
of units instead (``contrastive.py``) and the head trains beside it on detached vectors.
Seeded: the same inputs, options and seed on the CPU give the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ..saved_model import ModelError
from .body import TunedBody
from .contrastive import cosine_pair_loss, pair_batches, pair_targets
from .network import (
    CACHE_LIMIT_BYTES, batches, bottom_size, bottom_states, collate, freeze, frozen_modules, given_states, load_base,
    make_head, pooled, resolve_device, tokenize, top_pooled,
)
from .options import OBJECTIVES, FineTuneOptions

HEAD_RATE_FACTOR = 20  # a fresh head starts from nothing; the pretrained body only needs nudging
WARMUP_FRACTION = 0.1
WEIGHT_DECAY = 0.01
PROGRESS_EVERY_S = 0.5


def train_body(
    inputs: Sequence[str],
    labels: np.ndarray,
    *,
    exclusive: bool,
    holdout: np.ndarray | None = None,
    options: FineTuneOptions = FineTuneOptions(),
    base: str = "default",
    progress: Callable[[dict], None] | None = None,
    codes: Sequence[str] | None = None,
) -> TunedBody:
    """Fine-tune ``base`` on pair strings and (n, k) labels (1 / 0 / -1); rows in ``holdout`` only pick the best epoch."""
    labels = np.asarray(labels)
    holdout = _check(inputs, labels, holdout)
    codes = list(codes) if codes is not None else [str(i) for i in range(labels.shape[1])]
    if len(codes) != labels.shape[1]:
        raise ValueError(f"{len(codes)} codes for labels with {labels.shape[1]} columns")
    _check_options(options)
    usable = _usable(labels, exclusive)
    train_rows = np.flatnonzero(usable & ~holdout)
    held_rows = np.flatnonzero(usable & holdout)
    if not len(train_rows):
        raise ModelError(
            f"fine-tuning needs coded units, but none of the {int((~holdout).sum())} units outside the holdout has "
            + ("exactly one code" if exclusive else "a known code (1 or 0)")
            + "; code some units first."
        )
    import torch

    device = resolve_device(options.device)
    fork_devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=fork_devices):  # seed our run without resetting the caller's generators
        torch.manual_seed(options.seed)
        run = _Run(inputs, labels, exclusive, options, base, device)
        body = run.fit(train_rows, held_rows, np.random.default_rng(options.seed), progress)
    body.codes = codes
    return body


def _check_options(options: FineTuneOptions) -> None:
    if options.epochs < 1 or options.batch_size < 1 or options.max_length < 8 or options.context_words < 0:
        raise ValueError(f"fine-tuning needs epochs >= 1, batch_size >= 1, max_length >= 8, context_words >= 0; got {options}")
    if not options.learning_rate > 0 or (options.max_minutes is not None and not options.max_minutes >= 0):
        raise ValueError(f"fine-tuning needs learning_rate > 0 and max_minutes >= 0 (or None); got {options}")
    if options.objective not in OBJECTIVES:
        raise ValueError(f"fine-tuning objective must be one of {', '.join(OBJECTIVES)}, not {options.objective!r}")


def _check(inputs: Sequence[str], labels: np.ndarray, holdout: np.ndarray | None) -> np.ndarray:
    if labels.ndim != 2 or labels.shape[0] != len(inputs) or labels.shape[1] == 0:
        raise ValueError(f"labels must be (n_inputs, n_codes) with n_inputs = {len(inputs)}, but labels have shape {labels.shape}")
    if not np.isin(labels, (-1, 0, 1)).all():
        raise ValueError("labels must hold only 1 (coded), 0 (not coded) and -1 (unknown)")
    if holdout is None:
        return np.zeros(len(inputs), dtype=bool)
    holdout = np.asarray(holdout)
    if holdout.dtype != bool or holdout.shape != (len(inputs),):
        raise ValueError(f"holdout must be a boolean mask of length {len(inputs)}, but it is {holdout.dtype} {holdout.shape}")
    return holdout


def _usable(labels: np.ndarray, exclusive: bool) -> np.ndarray:
    """Rows the loss can use: exclusive, exactly one code; multi-label, any known entry."""
    if exclusive:
        return (labels == 1).sum(axis=1) == 1
    return (labels >= 0).any(axis=1)


class _Clock:
    """Steps, the max_minutes deadline and throttled progress reports."""

    def __init__(self, options: FineTuneOptions, steps_per_epoch: int, progress):
        self.options, self.steps_per_epoch, self.progress = options, steps_per_epoch, progress
        self.total = steps_per_epoch * options.epochs
        self.started = self.training_started = self.last_report = time.monotonic()
        self.deadline = self.started + options.max_minutes * 60 if options.max_minutes is not None else None
        self.step, self.stopped = 0, False

    def tick(self, epoch: int, loss: float) -> bool:
        """Count a finished batch and report it; True when the time budget is spent (training stops)."""
        self.step += 1
        now = time.monotonic()
        self.stopped = self.deadline is not None and now >= self.deadline and self.step < self.total
        if self.progress is not None and (now - self.last_report >= PROGRESS_EVERY_S or self.stopped or self.step == self.total):
            eta = (now - self.training_started) / self.step * (self.total - self.step)
            if self.deadline is not None:
                eta = min(eta, max(0.0, self.deadline - now))
            self.progress({"phase": "training", "epoch": epoch, "epochs": self.options.epochs, "step": self.step,
                           "steps": self.total, "elapsed": now - self.started, "eta": eta, "loss": loss})
            self.last_report = now
        return self.stopped


def masked_bce(logits, labels):
    """Mean binary cross-entropy over the known entries (labels 1 or 0); -1 entries add no loss and no gradient."""
    import torch

    known = (labels >= 0).to(logits.dtype)
    each = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.clamp(min=0).to(logits.dtype), reduction="none")
    return (each * known).sum() / known.sum().clamp(min=1)


class _Run:
    """One fine-tuning run's state: model, head, optimizer, tokenized inputs, targets."""

    def __init__(self, inputs, labels, exclusive, options, base, device):
        import torch

        self.options, self.exclusive, self.device = options, exclusive, device
        self.contrastive = options.objective == "contrastive"
        self.labels = labels  # the contrastive objective's pairs are read from them
        self.base = load_base(base, device)
        self.model = self.base.model.to(device)
        self.tuned = freeze(self.model, options.tuned_layers)
        self.frozen = frozen_modules(self.model, options.tuned_layers)
        self.head = make_head(self.model, labels.shape[1]).to(device)
        self.tokenized = tokenize(self.base.tokenizer, list(inputs), options.max_length)
        self.pad_id = self.base.tokenizer.pad_token_id or 0
        self.n_bottom = bottom_size(self.model, options.tuned_layers)
        self.states: dict | None = None  # cached bottom outputs, filled by _prepare
        self.given = given_states()
        if exclusive:
            self.targets = torch.from_numpy(np.argmax(labels == 1, axis=1).astype(np.int64))
        else:
            self.targets = torch.from_numpy(labels.astype(np.float32))  # -1 kept: masked_bce skips it

    # --- the loop -----------------------------------------------------------------------

    def fit(self, train_rows, held_rows, rng, progress) -> TunedBody:
        options = self.options
        clock = _Clock(options, len(self._batches(train_rows, np.random.default_rng(0))), progress)
        optimizer, schedule = self._optimizer(clock.total)
        self._prepare(np.concatenate([train_rows, held_rows]), clock.started, progress)
        clock.training_started = time.monotonic()  # the ETA extrapolates training steps only, not the one-off pass
        history, best, best_epoch, best_loss, finished = [], None, 0, float("inf"), True
        for epoch in range(1, options.epochs + 1):
            epoch_start = time.monotonic()
            losses, finished = self._epoch(epoch, train_rows, rng, optimizer, schedule, clock)
            if not finished:
                break  # an unfinished epoch gets no holdout loss: it is not a candidate checkpoint
            held_loss = self._held_loss(held_rows) if len(held_rows) else None
            history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "holdout_loss": held_loss,
                            "seconds": round(time.monotonic() - epoch_start, 3)})
            if held_loss is None:
                best_epoch = epoch  # no holdout: the last finished epoch
            elif held_loss < best_loss:
                best_loss, best_epoch, best = held_loss, epoch, self._snapshot()
            if clock.stopped:
                break
        current = history[-1]["epoch"] if history and finished else 0  # 0: cut short mid-epoch
        if best is not None and best_epoch != current:
            self._restore(best)  # a later epoch (or a cut-short one) did worse on the holdout
        elif best is None:
            best_epoch = current  # no holdout: the weights as they are
        return self._body(history, best_epoch, clock.stopped, time.monotonic() - clock.started, len(train_rows))

    def _epoch(self, epoch, train_rows, rng, optimizer, schedule, clock) -> tuple[list[float], bool]:
        """One pass over the training rows, batch by batch (``_batches``); (batch losses, whether it ran to its end)."""
        losses = []
        self._train_mode()
        for rows in self._batches(train_rows, rng):
            loss = self._loss(train_rows[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if clock.tick(epoch, losses[-1]):
                return losses, len(losses) == clock.steps_per_epoch
        return losses, True

    def _batches(self, train_rows, rng) -> list[np.ndarray]:
        """Positions into ``train_rows``: length buckets for a head (little padding), mixed batches for pairs."""
        if self.contrastive:
            return pair_batches(len(train_rows), self.options.batch_size, rng)
        return batches(self.tokenized.lengths()[train_rows], self.options.batch_size, rng)

    def _prepare(self, rows: np.ndarray, started: float, progress) -> None:
        """Compute the frozen bottom's outputs once, when there is a frozen bottom and they fit in memory."""
        width = self.model.config.hidden_size * 4
        if not self.n_bottom or int(self.tokenized.lengths()[rows].sum()) * width > CACHE_LIMIT_BYTES:
            return
        last = [started]

        def report(done: int) -> None:
            now = time.monotonic()
            if progress is not None and (now - last[0] >= PROGRESS_EVERY_S or done == len(rows)):
                elapsed = now - started
                progress({"phase": "preparing", "epoch": 0, "epochs": self.options.epochs, "step": done,
                          "steps": len(rows), "elapsed": elapsed, "eta": elapsed / done * (len(rows) - done),
                          "loss": float("nan")})
                last[0] = now

        self.states = bottom_states(self.model, self.tokenized, rows, self.n_bottom, self.pad_id, self.device, report)

    def _optimizer(self, total_steps: int):
        import torch

        body = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": body, "lr": self.options.learning_rate},
             {"params": list(self.head.parameters()), "lr": self.options.learning_rate * HEAD_RATE_FACTOR}],
            weight_decay=WEIGHT_DECAY,
        )
        warmup = max(1, int(total_steps * WARMUP_FRACTION))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _train_mode(self) -> None:
        self.model.train()
        self.head.train()
        for module in self.frozen:  # fixed weights: no dropout either, so they act as a fixed feature extractor
            module.eval()

    def _vectors(self, rows: np.ndarray):
        if self.states is not None:
            return top_pooled(self.model, self.given, self.states, rows, self.n_bottom, self.device)
        return pooled(self.model, collate(self.tokenized, rows, self.pad_id, self.device))

    def _loss(self, rows: np.ndarray):
        vectors = self._vectors(rows)
        if not self.contrastive:
            return self._head_loss(self.head(vectors), rows)
        # the head follows the body on detached vectors: it trains, but teaches the body nothing
        return self._pair_loss(vectors, rows) + self._head_loss(self.head(vectors.detach()), rows)

    def _pair_loss(self, vectors, rows: np.ndarray):
        return cosine_pair_loss(vectors, *pair_targets(self.labels[rows], self.exclusive))

    def _head_loss(self, logits, rows: np.ndarray):
        import torch

        index = torch.from_numpy(rows)
        if self.exclusive:
            return torch.nn.functional.cross_entropy(logits, self.targets[index].to(self.device))
        return masked_bce(logits, self.targets[index].to(self.device))

    def _held_loss(self, rows: np.ndarray) -> float:
        """Mean loss over the holdout rows (per row for exclusive, per known entry for multi-label; contrastive: the
        pair loss over every pair of holdout rows, whatever batches training made)."""
        import torch

        self.model.eval()
        self.head.eval()
        chunks = [rows[chunk] for chunk in batches(self.tokenized.lengths()[rows], 64, None)]
        total, weight = 0.0, 0.0
        with torch.inference_mode():
            if self.contrastive:
                vectors = torch.cat([self._vectors(selected) for selected in chunks])
                total, weight = float(self._pair_loss(vectors, np.concatenate(chunks))), 1.0
            else:
                for selected in chunks:
                    size = len(selected) if self.exclusive else float((self.targets[torch.from_numpy(selected)] >= 0).sum())
                    total += float(self._loss(selected)) * size
                    weight += size
        self._train_mode()
        return total / max(weight, 1e-9)

    def _trainable(self) -> dict:
        named = dict(self.model.named_parameters())
        state = {"body." + name: named[name] for name in self.tuned}
        state.update({"head." + name: p for name, p in self.head.named_parameters()})
        return state

    def _snapshot(self) -> dict:
        return {name: p.detach().clone() for name, p in self._trainable().items()}

    def _restore(self, snapshot: dict) -> None:
        import torch

        with torch.no_grad():
            for name, p in self._trainable().items():
                p.copy_(snapshot[name])

    def _body(self, history, best_epoch, stopped, seconds, examples) -> TunedBody:
        self.model.eval()
        self.head.eval()
        return TunedBody(
            model=self.model, head=self.head, tokenizer=self.base.tokenizer, tuned=self.tuned,
            codes=[], exclusive=self.exclusive, options=self.options, base=self.base.id, base_spec=self.base.spec,
            device=self.device, history=history, best_epoch=best_epoch, stopped_early=stopped,
            seconds=round(seconds, 3), examples=examples,
        )
