"""Workflows for suggesting codes: train, suggest, evaluate, export — over the project store."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .classify import CodeModel, Proposal, TrainOptions, propose
from .engine import EngineOptions, encode_with_engine
from .errors import ConflictError, QcaError
from .evaluation import cross_validate, learning_curve, summarize
from .model import Suggestion
from .project import Progress, project_encoder
from .saved_model import ModelError
from .store import Store
from .suggest_limits import SuggestLimits, limit, seed_shares
from .two_stage import rescore, second_stage
# training moved to training.py; these names stay importable from here
from .training import (  # noqa: F401
    ENCODER_SETTING, HUMAN_ORIGINS, TrainReport, _allocate_version, _check_examples, _options_of, _Unit, load_latest_model,
    pair_inputs, project_encoder_spec, project_units, train, training_set, transcript_units,
    units_with_ids,
)

SUGGEST_BLOCK_UNITS = 4096  # units encoded and scored at once: 4,096 x 384 float32 vectors are 6 MB
PROPOSAL_SOURCES = ("classifier", "exemplar", "description")  # the order propose() returns its proposals in

SUGGESTION_FIELDS = ("unit_id", "external_id", "transcript", "order", "code", "probability", "score", "source",
                     "model_version", "rationale_unit_ids", "text")


# --- checks on the units a model judges -------------------------------------------


def _training_units_still_there(store: Store, model: CodeModel) -> None:
    """Refuse a model whose coded examples were re-cut or removed since it was trained: its rationales would
    cite units that no longer exist, and ``agree`` could not tell which units it was trained on."""
    gone = set(store.missing_unit_ids(model.exemplar_unit_ids.tolist()))
    if gone:
        raise ModelError(
            f"model {model.manifest['version']} was trained on {len(gone)} unit(s) that have since been re-cut or "
            "removed (segment --resegment, import --replace, speakers set), so its suggestions would cite units that no "
            "longer exist; run 'qcassist train' again, then 'qcassist suggest'."
        )


# --- suggest -----------------------------------------------------------------------


@dataclass
class SuggestReport:
    model_version: str
    units: int
    suggestions: int
    units_with_suggestion: int
    units_without: dict[str, int] = field(default_factory=dict)  # reason -> units (suggest_limits.REASONS)
    capped: dict[str, dict] = field(default_factory=dict)  # code -> {"kept", "candidates", "cap"}
    unreliable: dict[str, float] = field(default_factory=dict)  # code -> its cross-validated kappa
    no_model: list[str] = field(default_factory=list)  # leaf codes with no examples and no description
    quality: dict = field(default_factory=dict)  # {"kappa", "source"} the warning rests on
    warnings: list[str] = field(default_factory=list)
    rescored: dict = field(default_factory=dict)  # --rescore-uncertain: {"units", "of", "band", "encoder"}

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Judging:
    """What suggest keeps of the corpus as it goes through it by blocks: ids, counts and proposals, no texts or vectors."""

    unit_ids: list[int] = field(default_factory=list)  # the judged units; a proposal's row indexes this
    transcripts: list[str] = field(default_factory=list)  # each judged unit's transcript name (one string shared per transcript)
    skipped: list[int] = field(default_factory=list)  # coded units left out (not with include_coded)
    # the units the transcripts people coded in hold: a code's share of these, not of the coded units alone, is
    # what the cap multiplies: people code the passages that have a code, so among coded units a code looks far
    # more common than it is (QMSum meetings: a code on 11 of 33 coded units, so a cap of 67%, and a weak model
    # put it on 559 of 940 units)
    in_coded_transcripts: int = 0
    proposals: list[Proposal] = field(default_factory=list)  # rows numbered across blocks
    rescored: dict = field(default_factory=dict)  # --rescore-uncertain, summed over the blocks


def suggest(
    store: Store,
    *,
    encoder: str | None = None,
    include_coded: bool = False,
    limits: SuggestLimits = SuggestLimits(),
    progress: Progress | None = None,
    block_units: int = SUGGEST_BLOCK_UNITS,
    engine: EngineOptions | None = None,
    rescore_uncertain: bool = False,
) -> SuggestReport:
    """Suggest codes for the project's uncoded units (or all units) with the latest model, and store them.

    Only proposals above their code's threshold, not of a code the model cannot tell
    apart, and within each code's cap (``suggest_limits``); the report says why units got none.
    Units are encoded and scored ``block_units`` at a time (whole transcripts; the result is the same for
    any block size), so memory follows the block, not the corpus. ``engine``: a Dask cluster encodes the units
    into the embedding cache first (engine.py); ``rescore_uncertain``: the units the model is unsure of are
    re-scored by its second stage (two_stage.py).
    """
    model = load_latest_model(store)
    encoder_obj = model_encoder(store, model, encoder)
    human = {c.unit_id for c in store.codings() if c.origin in HUMAN_ORIGINS}
    human |= {d.unit_id for d in store.decisions() if d.action in ("accept", "reject", "recode", "add")}
    _training_units_still_there(store, model)
    # loaded once (and refused before any encoding when the model has none), not once per block
    stage = second_stage(store, model) if rescore_uncertain else None
    if engine is not None:  # the cluster fills the embedding cache; the blocks below then read it
        if model.body is not None:
            raise QcaError(f"model {model.manifest['version']} is fine-tuned: its body encodes on this machine, not on a "
                           "Dask cluster; suggest without --engine (or train a fast model for the cluster).")
        blocks = _unit_blocks(store, _Judging(), human=human, include_coded=include_coded, block_units=block_units)
        encode_with_engine(encoder_obj, (text for block in blocks for text in model_inputs(model, block)), options=engine)
    judging = _judge_by_blocks(store, model, (encoder_obj, unit_encoder(store, model)), human=human,
                               include_coded=include_coded, block_units=block_units, progress=progress, stage=stage)
    cv = model.manifest.get("cv") or {}
    unreliable = {code: kappa for code, kappa in (cv.get("per_code_kappa") or {}).items() if kappa < limits.min_code_kappa}
    quality = model_quality(store, model)
    weak = quality["kappa"] is None or quality["kappa"] < limits.weak_kappa
    seen = max(model.manifest.get("units", 0), judging.in_coded_transcripts)
    limited = limit(judging.proposals, len(judging.unit_ids), shares=seed_shares(model.manifest["examples_per_code"], seen),
                    unreliable=set(unreliable), cap_factor=limits.cap_factor,
                    min_probability=limits.weak_min_probability if weak else 0.0)
    version = model.manifest["version"]
    suggestions = [
        Suggestion(judging.unit_ids[p.row], p.code, p.probability, version, p.source, p.rationale, score=p.score)
        for p in limited.kept
    ]
    with store.transaction():
        _units_still_there(store, judging)
        store.replace_suggestions(suggestions, judging.unit_ids)
        # which units the model judged (suggested or not) and skipped: agreement counts it as missing on every
        # other unit (skipped as coded, or imported or re-cut since), not as "no code"
        store.set_setting("suggest.skipped_units", json.dumps({"version": version, "units": sorted(judging.skipped),
                                                               "judged": sorted(judging.unit_ids)}))
    leaves = [c.name for c in store.codebook().leaves]
    modelled = set(model.codes) | set(model.exemplar_codes) | set(model.description_codes)
    return SuggestReport(
        version, len(judging.unit_ids), len(suggestions), len({s.unit_id for s in suggestions}),
        units_without={k: n for k, n in limited.rows_without.items() if n}, capped=limited.capped,
        unreliable=unreliable, no_model=[c for c in leaves if c not in modelled], quality=quality,
        warnings=_quality_warnings(model, quality, limits), rescored=judging.rescored,
    )


def _judge_by_blocks(store: Store, model: CodeModel, encoders: tuple, *, human: set[int], include_coded: bool,
                     block_units: int, progress: Progress | None, stage=None) -> _Judging:
    """Encode and score the units to judge a block of whole transcripts at a time, keeping only the proposals."""
    judging = _Judging()
    options = _options_of(model)
    for block in _unit_blocks(store, judging, human=human, include_coded=include_coded, block_units=block_units):
        vectors = model_vectors(store, model, block, encoders[0], progress, encoders[1])
        start = len(judging.unit_ids)
        proposals = propose(model, vectors, [u.text for u in block], [u.context for u in block],
                            [u.following for u in block], options=options)
        if stage is not None:  # a unit's re-scoring reads that unit only, so block by block is the same as at once
            proposals, done = rescore(store, model, vectors, block, proposals, options=options, stage=stage)
            judging.rescored = dict(done, units=judging.rescored.get("units", 0) + done["units"],
                                    of=judging.rescored.get("of", 0) + done["of"])
        for p in proposals:
            judging.proposals.append(replace(p, row=p.row + start))
        judging.unit_ids += [u.id for u in block]
        judging.transcripts += [u.transcript for u in block]
    # propose's order over the whole corpus: by source, then by row (a stable sort keeps the rows in order)
    judging.proposals.sort(key=lambda p: PROPOSAL_SOURCES.index(p.source))
    return judging


def _unit_blocks(store: Store, judging: _Judging, *, human: set[int], include_coded: bool,
                 block_units: int) -> Iterator[list[_Unit]]:
    """The units to judge, in ``project_units``'s order, as blocks of whole transcripts of about ``block_units``;
    counts the skipped units and those in coded transcripts into ``judging`` on the way."""
    block: list[_Unit] = []
    for transcript in store.iter_transcripts():
        units = transcript_units(store, transcript)
        if any(u.id in human for u in units):
            judging.in_coded_transcripts += len(units)
        if not include_coded:
            judging.skipped += [u.id for u in units if u.id in human]
        block += [u for u in units if include_coded or u.id not in human]
        if block and len(block) >= block_units:
            yield block
            block = []
    if block:
        yield block


def _units_still_there(store: Store, judging: _Judging) -> None:
    """ConflictError (inside the write) if another command re-cut or removed units while they were being judged."""
    gone = set(store.missing_unit_ids(judging.unit_ids))
    if gone:
        names = ", ".join(sorted({name for i, name in zip(judging.unit_ids, judging.transcripts) if i in gone}))
        raise ConflictError(f"another qcassist command re-cut or removed {len(gone)} of the units being judged "
                            f"(transcript {names}) while suggest was running; nothing was changed. "
                            "Run 'qcassist suggest' again.")


def model_encoder(store: Store, model: CodeModel, encoder: str | None = None):
    """The encoder whose vectors ``model`` was trained on: its tuned body (cached by the body's id), or the project's
    encoder, checked to be the one the model names (ModelError otherwise)."""
    if model.body is not None:
        from .train_methods import body_encoder

        return body_encoder(store, model.body)
    spec = encoder or model.manifest.get("encoder_spec") or project_encoder_spec(store, None)
    encoder_obj = project_encoder(store, spec)
    if encoder_obj.id != model.manifest["encoder"]:
        raise ModelError(
            f"model {model.manifest['version']} was trained on embeddings from {model.manifest['encoder']}, "
            f"not {encoder_obj.id}; train again with this encoder or suggest with --encoder {model.manifest.get('encoder_spec')}."
        )
    return encoder_obj


def model_inputs(model: CodeModel, units: Sequence[_Unit]) -> list[str]:
    """What the model's encoder reads for each unit: the unit with its context for a tuned body, else its text."""
    if model.body is None:
        return [u.text for u in units]
    return pair_inputs(units, model.body.options.context_words)


def unit_vectors(store: Store, model: CodeModel, units: Sequence[_Unit]) -> np.ndarray:
    """The units' vectors as ``model`` sees them (review's ordering uses them)."""
    return model_vectors(store, model, units, model_encoder(store, model))


def unit_encoder(store: Store, model: CodeModel):
    """The frozen encoder a fine-tuned head on "unit+pair" reads the unit texts with (None for other models)."""
    if model.body is None or model.manifest.get("body_features") != "unit+pair":
        return None
    return project_encoder(store, model.manifest["encoder_spec"])


def model_vectors(store: Store, model: CodeModel, units: Sequence[_Unit], encoder_obj,
                  progress: Progress | None = None, units_encoder=None) -> np.ndarray:
    """What ``model``'s head reads of each unit: ``encoder_obj``'s vectors of ``model_inputs``, and for a fine-tuned
    head on "unit+pair" the frozen encoder's vectors of the unit texts beside them (both from the embedding cache).

    ``units_encoder``: that frozen encoder, made once by a caller that encodes block after block (each new
    encoder object loads its model again); made here otherwise.
    """
    vectors = _encode_by_transcript(encoder_obj, list(units), model_inputs(model, units), progress)
    units_encoder = units_encoder or unit_encoder(store, model)
    if units_encoder is not None and len(units):
        from .train_methods import unit_and_pair

        vectors = unit_and_pair(units_encoder.encode([u.text for u in units]), vectors)
    return vectors


def _encode_by_transcript(encoder_obj, units: list[_Unit], inputs: list[str], progress: Progress | None) -> np.ndarray:
    """Embeddings of the units' ``inputs``, one transcript at a time so a progress bar can follow."""
    parts = []
    start = 0
    for transcript, members in itertools.groupby(units, key=lambda u: u.transcript):  # a transcript's units are consecutive
        count = sum(1 for _ in members)
        parts.append(encoder_obj.encode(inputs[start:start + count]))
        start += count
        if progress:
            progress(transcript)
    return np.vstack(parts) if parts else np.zeros((0, 0), np.float32)


def model_quality(store: Store, model: CodeModel) -> dict:
    """The cross-validated kappa to judge the model by: the latest evaluation's, else the training's own."""
    evaluation = store.latest_evaluation()
    # 'evaluate' cross-validates the fast model; a fine-tuned one is judged by its own held-out kappa
    if evaluation and isinstance(evaluation.get("kappa"), (int, float)) and model.body is None:
        return {"kappa": float(evaluation["kappa"]), "source": "the latest 'qcassist evaluate'"}
    cv = model.manifest.get("cv")
    if cv:
        source = "held-out transcripts during training" if model.manifest.get("holdout_transcripts") else \
            "cross-validation during training"
        return {"kappa": float(cv["kappa"]), "source": source}
    return {"kappa": None, "source": "no classifier (too few examples per code)"}


def _quality_warnings(model: CodeModel, quality: dict, limits: SuggestLimits) -> list[str]:
    warnings = []
    kappa = quality["kappa"]
    if kappa is None:
        warnings.append("no code has enough coded units for a classifier; every suggestion rests on similarity "
                        "to a few examples. Code more units and train again.")
    elif kappa < limits.weak_kappa:
        warnings.append(f"the model is weak: cross-validated kappa {kappa:.2f} ({quality['source']}) is below "
                        f"{limits.weak_kappa}, so many suggestions would be wrong. Only suggestions at p >= "
                        f"{limits.weak_min_probability} are kept. Code more units and train again.")
    few = {c: n for c, n in model.manifest["examples_per_code"].items() if 0 < n < limits.few_examples}
    if few:
        listed = ", ".join(f"{c} ({n})" for c, n in sorted(few.items(), key=lambda item: (item[1], item[0])))
        warnings.append(f"{len(few)} code{'s' if len(few) > 1 else ''} with fewer than {limits.few_examples} coded "
                        f"units, whose suggestions rest on too few examples: {listed}.")
    return warnings


def suggestion_rows(store: Store) -> list[dict]:
    """Stored suggestions with their unit's transcript, order, external id and text."""
    suggestions = store.suggestions()
    info = {u.id: u for u in units_with_ids(store, {s.unit_id for s in suggestions})}  # not every unit's text
    rows = []
    for s in suggestions:
        unit = info[s.unit_id]
        rows.append({
            "unit_id": s.unit_id, "external_id": unit.external_id, "transcript": unit.transcript, "order": unit.order,
            "code": s.code, "probability": _rounded(s.probability), "score": _rounded(s.score), "source": s.source,
            "model_version": s.model_version,
            "rationale_unit_ids": " ".join(str(i) for i in s.rationale), "text": unit.text,
        })
    return rows


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- evaluate ----------------------------------------------------------------------


def _active_fine_tuned(store: Store) -> dict | None:
    """The latest model when it is fine-tuned: ``evaluate`` cross-validates the fast model (one fine-tuning per
    fold would take most of an hour), so it says which model the project actually suggests with."""
    latest = store.latest_classifier()
    if latest is None or latest[1].get("method") != "finetuned":
        return None
    version, manifest = latest
    return {"version": version, "method": "finetuned", "holdout_kappa": (manifest.get("cv") or {}).get("kappa"),
            "holdout_transcripts": len(manifest.get("holdout_transcripts") or [])}


def evaluate(
    store: Store,
    *,
    encoder: str | None = None,
    options: TrainOptions = TrainOptions(),
    folds: int = 5,
    with_learning_curve: bool = True,
    coders: Sequence[str] = (),
) -> dict:
    """Grouped cross-validation of the project's classifier on its human codings; the result is stored."""
    spec = project_encoder_spec(store, encoder)
    encoder_obj = project_encoder(store, spec)
    data = training_set(store, encoder_obj, coders=coders)
    _check_examples(data)
    exclusive = store.codebook().exclusive
    try:
        cv = cross_validate(data, exclusive=exclusive, options=options, folds=folds)
    except ValueError as exc:
        raise QcaError(f"cannot evaluate: {exc}.") from None
    result = summarize(cv)
    # the folds run, not those asked for: 3 transcripts make 3 grouped folds, which the output said were 5
    result.update(encoder=encoder_obj.id, folds=cv.folds, grouped_by="transcript", transcripts=len(set(data.groups)),
                  method="fast", active_model=_active_fine_tuned(store))
    from .baseline import compare_with_baseline  # TF-IDF + LR on the same folds: what the model adds

    result["baseline"] = compare_with_baseline(data, cv, result)
    if with_learning_curve:
        result["learning_curve"] = learning_curve(data, exclusive=exclusive, options=options, folds=folds)
    store.add_evaluation(result)
    return result
