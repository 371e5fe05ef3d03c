"""Workflows for suggesting codes: train, suggest, evaluate, export — over the project store."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from .classify import CodeModel, TrainingSet, TrainOptions, propose, train_model
from .embed import DEFAULT_ENCODER
from .errors import ConflictError, QcaError
from .evaluation import cross_validate, learning_curve, summarize
from .model import Suggestion, Transcript
from .project import Progress, project_encoder
from .safe_output import flush_folder
from .saved_model import ModelError
from .store import Store
from .suggest_limits import SuggestLimits, limit, seed_shares
from .two_stage import RESCORER_DIR, rescore, rescorer_summary, train_rescorer

ENCODER_SETTING = "encoder"
HUMAN_ORIGINS = ("human", "review")
SUGGESTION_FIELDS = ("unit_id", "external_id", "transcript", "order", "code", "probability", "score", "source",
                     "model_version", "rationale_unit_ids", "text")


# --- gathering units --------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    id: int
    external_id: str | None
    transcript: str
    order: int
    text: str
    context: str  # the turn before the unit's turn
    following: str  # the turn after it


def project_units(store: Store) -> list[_Unit]:
    units = []
    for transcript in store.transcripts():
        for order, unit in enumerate(store.units(transcript.id), start=1):
            units.append(_Unit(unit.id, unit.external_id, transcript.name, order, unit.text_in(transcript),
                               _turn_text(transcript, unit.turn_index, -1), _turn_text(transcript, unit.turn_index, +1)))
    return units


def _training_units_still_there(model: CodeModel, units: Sequence[_Unit]) -> None:
    """Refuse a model whose coded examples were re-cut or removed since it was trained: its rationales would
    cite units that no longer exist, and ``agree`` could not tell which units it was trained on."""
    gone = set(model.exemplar_unit_ids.tolist()) - {u.id for u in units}
    if gone:
        raise ModelError(
            f"model {model.manifest['version']} was trained on {len(gone)} unit(s) that have since been re-cut or "
            "removed (segment --resegment, import --replace, speakers set), so its suggestions would cite units that no "
            "longer exist; run 'qcassist train' again, then 'qcassist suggest'."
        )


def _units_in_coded_transcripts(units: Sequence[_Unit], coded: set[int]) -> int:
    """How many units the transcripts people coded in hold: the units they had before them.

    A code's share of these, not of the coded units alone, is what the cap multiplies: people code the
    passages that have a code, so among coded units a code looks far more common than it is (QMSum
    meetings: a code on 11 of 33 coded units, so a cap of 67%, and a weak model put it on 559 of 940 units).
    """
    transcripts = {u.transcript for u in units if u.id in coded}
    return sum(1 for u in units if u.transcript in transcripts)


def _turn_text(transcript: Transcript, turn_index: int | None, step: int) -> str:
    """Text of the turn ``step`` away from the unit's turn ("" past either end)."""
    if turn_index is None or not 0 <= turn_index + step < len(transcript.turns):
        return ""
    return transcript.turn_text(transcript.turns[turn_index + step])


def project_encoder_spec(store: Store, requested: str | None) -> str:
    """The encoder this project's models use: the one asked for, else the one recorded, else the default."""
    return requested or store.setting(ENCODER_SETTING) or DEFAULT_ENCODER


# --- train -------------------------------------------------------------------------


@dataclass
class TrainReport:
    version: str
    encoder: str
    units: int
    classifier_codes: list[str]
    exemplar_codes: list[str]
    description_codes: list[str]
    examples_per_code: dict[str, int]
    seconds: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def training_set(store: Store, encoder, *, coders: Sequence[str] = ()) -> TrainingSet:
    """Human-coded units (seed codings and accepted reviews) as arrays for the leaf codes."""
    codebook = store.codebook()
    leaves = [c.name for c in codebook.leaves]
    if not leaves:
        raise QcaError("the project has no codebook; run 'qcassist codebook import FILE' or 'qcassist import-coded' first.")
    by_unit: dict[int, set[str]] = defaultdict(set)
    for coding in store.codings():
        if coding.origin in HUMAN_ORIGINS and (not coders or coding.coder in coders) and coding.code in leaves:
            by_unit[coding.unit_id].add(coding.code)
    negatives: dict[int, set[str]] = defaultdict(set)
    for unit_id, code in store.negatives():
        if code in leaves:
            negatives[unit_id].add(code)
    units = [u for u in project_units(store) if u.id in by_unit or u.id in negatives]
    if codebook.exclusive:
        several = next((u for u in units if len(by_unit[u.id]) > 1), None)
        if several is not None:
            raise QcaError(
                f"the codebook is exclusive but unit {several.id} ({several.transcript} #{several.order}) has "
                f"{len(by_unit[several.id])} codes: {', '.join(sorted(by_unit[several.id]))}."
            )
    labels = np.array([[_label(code, by_unit.get(u.id, set()), negatives.get(u.id, set())) for code in leaves]
                       for u in units], dtype=np.int8).reshape(len(units), len(leaves))
    embeddings = encoder.encode([u.text for u in units]) if units else np.zeros((0, 0), np.float32)
    return TrainingSet(
        unit_ids=np.array([u.id for u in units], dtype=np.int64), texts=[u.text for u in units],
        contexts=[u.context for u in units], embeddings=embeddings, labels=labels,
        groups=[u.transcript for u in units], codes=leaves, following=[u.following for u in units],
    )


def _label(code: str, positives: set[str], negatives: set[str]) -> int:
    """1 coded; 0 rejected, or another code on a coded unit; -1 unknown (the unit was only rejected for others)."""
    if code in positives:
        return 1
    return 0 if positives or code in negatives else -1


def _check_examples(data: TrainingSet) -> None:
    # a code coded on one unit is suggested by similarity to that unit, like any code with few examples (the
    # summary names it): refusing to train until it was coded again, merged or its coding dropped stopped a
    # small Norwegian project at its first 'train'
    counts = dict(zip(data.codes, (data.labels == 1).sum(axis=0).tolist()))
    if sum(1 for n in counts.values() if n >= 2) < 2:
        raise QcaError(f"training needs at least two codes with two or more coded units each; found {counts}.")


def train(
    store: Store,
    *,
    encoder: str | None = None,
    options: TrainOptions = TrainOptions(),
    coders: Sequence[str] = (),
    rescore_encoder: str | None = None,
) -> TrainReport:
    """Train the project's classifier on its human codings and save it as a new model version.

    With ``rescore_encoder``, also a second-stage model on that encoder for ``suggest --rescore-uncertain`` (two_stage.py).
    """
    started = datetime.now(timezone.utc)
    spec = project_encoder_spec(store, encoder)
    encoder_obj = project_encoder(store, spec)
    data = training_set(store, encoder_obj, coders=coders)
    _check_examples(data)
    codebook = store.codebook()
    described = [c for c in codebook.leaves if c.description and not (data.labels[:, data.codes.index(c.name)] == 1).any()]
    descriptions = {}
    if described:
        vectors = encoder_obj.encode([f"{c.name}: {c.description}" for c in described])
        descriptions = {c.name: v for c, v in zip(described, vectors)}
    model = train_model(data, exclusive=codebook.exclusive, descriptions=descriptions, options=options)
    rescorer = (train_rescorer(store, data, rescore_encoder, exclusive=codebook.exclusive, options=options)
                if rescore_encoder else None)
    data_hash = _training_hash(data)
    version, directory = _allocate_version(store, started.strftime("%Y%m%dT%H%M%S") + "-" + data_hash[:8])
    try:
        model.manifest.update(
            version=version, created_at=started.isoformat(timespec="seconds"), encoder=encoder_obj.id, encoder_spec=spec,
            training_data_sha256=data_hash, codebook_sha256=_codebook_hash(codebook), units=len(data.texts),
            libraries=_library_versions(),
        )
        if rescorer is not None:
            model.manifest["rescorer"] = rescorer_summary(rescorer)
            _save_model(rescorer, directory / RESCORER_DIR)
        _save_model(model, directory)
        with store.transaction():
            store.add_classifier(version, encoder_obj.id, model.manifest)
            store.set_setting(ENCODER_SETTING, spec)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # the folder this process made, and nothing else
        raise
    seconds = (datetime.now(timezone.utc) - started).total_seconds()
    return TrainReport(version, encoder_obj.id, len(data.texts), model.codes, model.exemplar_codes,
                       model.description_codes, model.manifest["examples_per_code"], seconds)


def _allocate_version(store: Store, base: str) -> tuple[str, Path]:
    """A new version name and its folder, made with an exclusive mkdir.

    Two trainings at once (or in the same second) cannot get the same folder: the
    second mkdir fails and that process tries the next name.
    """
    root = store.directory / "classifiers"
    try:
        root.mkdir(exist_ok=True)
        taken = store.classifier_versions()
        for n in itertools.count(1):
            version = base if n == 1 else f"{base}-{n}"
            if version in taken:
                continue
            try:
                (root / version).mkdir()
            except FileExistsError:
                continue
            return version, root / version
    except OSError as exc:
        raise QcaError(f"{root}: cannot make a folder for the new model ({exc.strerror or exc}).") from None
    raise AssertionError("unreachable")


def _save_model(model: CodeModel, directory: Path) -> None:
    try:
        model.save(directory)
        flush_folder(directory)  # on disk before the database names it
    except OSError as exc:
        raise QcaError(f"{directory}: could not save the model ({exc.strerror or exc}); nothing was registered.") from None


def _training_hash(data: TrainingSet) -> str:
    digest = hashlib.sha256()
    for unit_id, text, row in zip(data.unit_ids.tolist(), data.texts, data.labels.tolist()):
        digest.update(json.dumps([unit_id, text, row]).encode())
    digest.update(json.dumps(data.codes).encode())
    return digest.hexdigest()


def _codebook_hash(codebook) -> str:
    payload = [[c.name, c.parent, c.description] for c in codebook.codes] + [codebook.exclusive]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in ("qcassist", "scikit-learn", "numpy", "scipy", "sentence-transformers", "torch"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def load_latest_model(store: Store) -> CodeModel:
    """The newest registered model, checked on load (ModelError naming the broken file)."""
    latest = store.latest_classifier()
    if latest is None:
        raise ModelError("no trained model in this project; run 'qcassist train' first.")
    version, _ = latest
    directory = store.directory / "classifiers" / version
    model = CodeModel.load(directory)
    missing = [key for key in ("version", "encoder", "options", "examples_per_code") if key not in model.manifest]
    if missing:
        raise ModelError(f"{directory / 'manifest.json'}: lacks {', '.join(missing)}; retrain with 'qcassist train'.")
    try:
        _options_of(model)
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{directory / 'manifest.json'}: its training options are unreadable; retrain with 'qcassist train'.") from None
    if not _numbers_by_code(model.manifest["examples_per_code"]) or not _numbers_by_code(
            (model.manifest.get("cv") or {}).get("per_code_kappa", {})):
        raise ModelError(f"{directory / 'manifest.json'}: its examples or kappas per code are not numbers; "
                         "retrain with 'qcassist train'.")
    gone = sorted(set(model.all_codes) - {c.name for c in store.codebook().leaves})
    if gone:  # renamed, merged, removed or made a group since (qcassist codebook ...)
        raise ModelError(f"model {version} suggests codes the codebook no longer has to assign ({', '.join(gone)}); "
                         "run 'qcassist train' again.")
    return model


def _numbers_by_code(value) -> bool:
    return isinstance(value, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())


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


def suggest(
    store: Store,
    *,
    encoder: str | None = None,
    include_coded: bool = False,
    limits: SuggestLimits = SuggestLimits(),
    progress: Progress | None = None,
    rescore_uncertain: bool = False,
) -> SuggestReport:
    """Suggest codes for the project's uncoded units (or all units) with the latest model, and store them.

    ``rescore_uncertain``: the units the model is unsure of are re-scored by its second stage (two_stage.py).

    Only proposals above their code's threshold, not of a code the model cannot tell
    apart, and within each code's cap (``suggest_limits``); the report says why units got none.
    """
    model = load_latest_model(store)
    spec = encoder or model.manifest.get("encoder_spec") or project_encoder_spec(store, None)
    encoder_obj = project_encoder(store, spec)
    if encoder_obj.id != model.manifest["encoder"]:
        raise ModelError(
            f"model {model.manifest['version']} was trained on embeddings from {model.manifest['encoder']}, "
            f"not {encoder_obj.id}; train again with this encoder or suggest with --encoder {model.manifest.get('encoder_spec')}."
        )
    human = {c.unit_id for c in store.codings() if c.origin in HUMAN_ORIGINS}
    human |= {d.unit_id for d in store.decisions() if d.action in ("accept", "reject", "recode", "add")}
    all_units = project_units(store)
    _training_units_still_there(model, all_units)
    units = [u for u in all_units if include_coded or u.id not in human]
    embeddings = _encode_by_transcript(encoder_obj, units, progress)
    proposals = propose(model, embeddings, [u.text for u in units], [u.context for u in units],
                        [u.following for u in units], options=_options_of(model)) if units else []
    rescored = {}
    if rescore_uncertain:
        proposals, rescored = rescore(store, model, embeddings, units, proposals, options=_options_of(model))
    cv = model.manifest.get("cv") or {}
    unreliable = {code: kappa for code, kappa in (cv.get("per_code_kappa") or {}).items() if kappa < limits.min_code_kappa}
    quality = model_quality(store, model)
    weak = quality["kappa"] is None or quality["kappa"] < limits.weak_kappa
    seen = max(model.manifest.get("units", 0), _units_in_coded_transcripts(all_units, human))
    limited = limit(proposals, len(units), shares=seed_shares(model.manifest["examples_per_code"], seen),
                    unreliable=set(unreliable), cap_factor=limits.cap_factor,
                    min_probability=limits.weak_min_probability if weak else 0.0)
    version = model.manifest["version"]
    suggestions = [
        Suggestion(units[p.row].id, p.code, p.probability, version, p.source, p.rationale, score=p.score)
        for p in limited.kept
    ]
    with store.transaction():
        _units_still_there(store, units)
        store.replace_suggestions(suggestions, [u.id for u in units])
        # which units the model judged (suggested or not) and skipped: agreement counts it as missing on every
        # other unit (skipped as coded, or imported or re-cut since), not as "no code"
        skipped = sorted(u.id for u in all_units if u.id in human and not include_coded)
        judged = sorted(u.id for u in units)
        store.set_setting("suggest.skipped_units", json.dumps({"version": version, "units": skipped, "judged": judged}))
    leaves = [c.name for c in store.codebook().leaves]
    modelled = set(model.codes) | set(model.exemplar_codes) | set(model.description_codes)
    return SuggestReport(
        version, len(units), len(suggestions), len({s.unit_id for s in suggestions}),
        units_without={k: n for k, n in limited.rows_without.items() if n}, capped=limited.capped,
        unreliable=unreliable, no_model=[c for c in leaves if c not in modelled], quality=quality,
        warnings=_quality_warnings(model, quality, limits), rescored=rescored,
    )


def _units_still_there(store: Store, units: list[_Unit]) -> None:
    """ConflictError (inside the write) if another command re-cut or removed units while they were being judged."""
    present = {u.id for u in store.units()}
    gone = [u for u in units if u.id not in present]
    if gone:
        names = ", ".join(sorted({u.transcript for u in gone}))
        raise ConflictError(f"another qcassist command re-cut or removed {len(gone)} of the units being judged "
                            f"(transcript {names}) while suggest was running; nothing was changed. "
                            "Run 'qcassist suggest' again.")


def _encode_by_transcript(encoder_obj, units: list[_Unit], progress: Progress | None) -> np.ndarray:
    """Embeddings of the units, one transcript at a time so a progress bar can follow."""
    parts = []
    for transcript, members in itertools.groupby(units, key=lambda u: u.transcript):  # a transcript's units are consecutive
        parts.append(encoder_obj.encode([u.text for u in members]))
        if progress:
            progress(transcript)
    return np.vstack(parts) if parts else np.zeros((0, 0), np.float32)


def model_quality(store: Store, model: CodeModel) -> dict:
    """The cross-validated kappa to judge the model by: the latest evaluation's, else the training's own."""
    evaluation = store.latest_evaluation()
    if evaluation and isinstance(evaluation.get("kappa"), (int, float)):
        return {"kappa": float(evaluation["kappa"]), "source": "the latest 'qcassist evaluate'"}
    cv = model.manifest.get("cv")
    if cv:
        return {"kappa": float(cv["kappa"]), "source": "cross-validation during training"}
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


def _options_of(model: CodeModel) -> TrainOptions:
    saved = dict(model.manifest["options"])
    from .features import FeatureConfig

    saved["features"] = FeatureConfig.from_dict(saved["features"])
    return TrainOptions(**saved)


def suggestion_rows(store: Store) -> list[dict]:
    """Stored suggestions with their unit's transcript, order, external id and text."""
    info = {u.id: u for u in project_units(store)}
    rows = []
    for s in store.suggestions():
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
    result.update(encoder=encoder_obj.id, folds=cv.folds, grouped_by="transcript", transcripts=len(set(data.groups)))
    if with_learning_curve:
        result["learning_curve"] = learning_curve(data, exclusive=exclusive, options=options, folds=folds)
    store.add_evaluation(result)
    return result
