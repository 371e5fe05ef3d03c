"""Training the project's classifier: gather the coded units, fit, save a new model version, load the latest."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections import defaultdict
from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from .classify import CodeModel, TrainingSet, TrainOptions
from .embed import DEFAULT_ENCODER
from .errors import QcaError
from .model import MeaningUnit, Transcript
from .project import project_encoder
from .safe_output import flush_folder
from .saved_model import ModelError
from .store import Store

ENCODER_SETTING = "encoder"
HUMAN_ORIGINS = ("human", "review")


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
    role: str = ""  # the unit's speaker's role (interviewer, participant, other; "" unknown)
    context_role: str = ""  # the role of the turn before ("" at a transcript's start)


def project_units(store: Store) -> list[_Unit]:
    units = []
    for transcript in store.transcripts():
        units += transcript_units(store, transcript)
    return units


def transcript_units(store: Store, transcript: Transcript, wanted: Container[int] | None = None) -> list[_Unit]:
    """The transcript's units in order (only those whose id is in ``wanted``, if given), with their context turns."""
    return [_unit(transcript, order, unit) for order, unit in enumerate(store.units(transcript.id), start=1)
            if wanted is None or unit.id in wanted]


def units_with_ids(store: Store, ids: Collection[int]) -> list[_Unit]:
    """The units with these ids (absent ones left out) in ``project_units``'s order, reading only their transcripts.

    A few coded units of a large corpus cost their transcripts, one at a time, not the whole corpus.
    """
    transcript_ids = sorted({unit.transcript_id for unit in store.units_by_id(ids).values()})
    wanted = set(ids)
    units = []
    for transcript_id in transcript_ids:  # project_units' order: transcripts by id, units by start
        units += transcript_units(store, store.transcript(transcript_id), wanted)
    return units


def _unit(transcript: Transcript, order: int, unit: MeaningUnit) -> _Unit:
    return _Unit(unit.id, unit.external_id, transcript.name, order, unit.text_in(transcript),
                 _turn_text(transcript, unit.turn_index, -1), _turn_text(transcript, unit.turn_index, +1),
                 _turn_role(transcript, unit.turn_index, 0), _turn_role(transcript, unit.turn_index, -1))


def pair_inputs(units: Sequence[_Unit], context_words: int) -> list[str]:
    """What a fine-tuned body reads for each unit: its text paired with the end of the turn before, with both roles."""
    from .finetune import pair_input

    return [pair_input(u.text, u.role, u.context, u.context_role, context_words=context_words) for u in units]


def _turn_role(transcript: Transcript, turn_index: int | None, step: int) -> str:
    """Role of the turn ``step`` away from the unit's turn ("" past either end)."""
    if turn_index is None or not 0 <= turn_index + step < len(transcript.turns):
        return ""
    return transcript.turns[turn_index + step].role


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
    method: str = "fast"  # what was saved: 'fast' or 'finetuned'
    comparison: dict | None = None  # auto: both kappas on the held-out transcripts (train_methods.compare)
    note: str | None = None  # why auto kept the fast model without trying, or where a refitted head's body came from
    holdout_transcripts: list[str] = field(default_factory=list)
    body: dict | None = None  # the fine-tuned body's manifest entry

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def training_set(store: Store, encoder, *, coders: Sequence[str] = (), context_words: int | None = None) -> TrainingSet:
    """Human-coded units (seed codings and accepted reviews) as arrays for the leaf codes.

    ``context_words``: also the pair strings a fine-tuned body reads, with this many words of the turn before
    (``pair_inputs``). ``encoder`` None: no embeddings.
    """
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
    units = units_with_ids(store, by_unit.keys() | negatives.keys())  # the coded few, not the whole corpus
    if codebook.exclusive:
        several = next((u for u in units if len(by_unit[u.id]) > 1), None)
        if several is not None:
            raise QcaError(
                f"the codebook is exclusive but unit {several.id} ({several.transcript} #{several.order}) has "
                f"{len(by_unit[several.id])} codes: {', '.join(sorted(by_unit[several.id]))}."
            )
    labels = np.array([[_label(code, by_unit.get(u.id, set()), negatives.get(u.id, set())) for code in leaves]
                       for u in units], dtype=np.int8).reshape(len(units), len(leaves))
    embeddings = encoder.encode([u.text for u in units]) if units and encoder is not None else np.zeros((0, 0), np.float32)
    return TrainingSet(
        unit_ids=np.array([u.id for u in units], dtype=np.int64), texts=[u.text for u in units],
        contexts=[u.context for u in units], embeddings=embeddings, labels=labels,
        groups=[u.transcript for u in units], codes=leaves, following=[u.following for u in units],
        inputs=pair_inputs(units, context_words) if context_words is not None else None,
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
    method: str = "fast",
    finetune=None,
    progress=None,
    rescore_encoder: str | None = None,
) -> TrainReport:
    """Train the project's classifier on its human codings and save it as a new model version.

    ``method``: 'fast' (the encoder's vectors and a head), 'finetuned' (a body tuned on the codings, its head
    calibrated on held-out transcripts), 'auto' (the better of the two on the same held-out transcripts; the
    fast one where fine-tuning cannot be had) — see ``train_methods``. ``finetune`` (a ``FineTuneOptions``, or a
    dict of its fields) and
    ``progress`` (called with the fine-tuning's epoch, step, loss and ETA) are for the fine-tuning.
    ``rescore_encoder``: also a second-stage model on that encoder, saved in the same version, for
    ``suggest --rescore-uncertain`` (two_stage.py; beside a fast model only).
    Nothing is registered until the end: an error or Ctrl-C leaves the project as it was.
    """
    from .train_methods import fit_by_method
    from .two_stage import train_rescorer

    if rescore_encoder and method == "finetuned":
        raise QcaError("--rescore-encoder re-scores a fast model's uncertain units; train with --method fast (or auto).")
    two_stage = bool(rescore_encoder) and method == "auto"  # a second stage goes beside a fast model: no fine-tuning
    method = "fast" if two_stage else method
    started = datetime.now(timezone.utc)
    spec = project_encoder_spec(store, encoder)
    encoder_obj = project_encoder(store, spec)
    data = training_set(store, encoder_obj, coders=coders)
    _check_examples(data)
    codebook = store.codebook()
    fitted = fit_by_method(store, data, method=method, spec=spec, exclusive=codebook.exclusive, options=options,
                           finetune=finetune, describe=lambda encode: _descriptions(codebook, data, encode),
                           fast_describe=encoder_obj.encode,
                           inputs=lambda context_words: _pair_inputs_of(store, data, context_words),
                           progress=progress)
    rescorer = None
    if rescore_encoder:
        if two_stage:
            fitted.note = "fast model kept without fine-tuning: --rescore-encoder adds a second stage to a fast model"
        rescorer = train_rescorer(store, data, rescore_encoder, exclusive=codebook.exclusive, options=options)
    return _register(store, fitted, data, spec=spec, encoder_id=encoder_obj.id, codebook=codebook, started=started,
                     rescorer=rescorer)


def train_head(store: Store, *, coders: Sequence[str] = ()) -> TrainReport:
    """Refit the latest fine-tuned model's head on its body's vectors of every coded unit (seconds, no fine-tuning).

    The body and the held-out transcripts stay: new decisions in those transcripts go to calibration, the rest
    to training. The review loop's retraining when the latest model is fine-tuned.
    """
    from .train_methods import Fitted, head_on_body

    started = datetime.now(timezone.utc)
    latest = load_latest_model(store)
    if latest.body is None:
        raise QcaError(f"model {latest.manifest['version']} is not fine-tuned; its head cannot be refitted alone.")
    holdout = list(latest.manifest.get("holdout_transcripts") or [])
    features = latest.manifest.get("body_features", "pair")  # models from before the choice read the pair only
    base = project_encoder(store, latest.manifest["encoder_spec"])
    data = training_set(store, base if features == "unit+pair" else None, coders=coders,
                        context_words=latest.body.options.context_words)
    _check_examples(data)
    codebook = store.codebook()
    options = _options_of(latest)
    mask = np.isin(np.asarray(data.groups), holdout)
    try:
        model = head_on_body(store, data, latest.body, mask, exclusive=codebook.exclusive, options=options,
                             describe=lambda encode: _descriptions(codebook, data, encode), base_encode=base.encode,
                             features=features)
    except ValueError as exc:  # a code that lost its held-out units (undone decisions, re-cut transcripts)
        raise QcaError(f"cannot refit the head of model {latest.manifest['version']} on its held-out transcripts "
                       f"({exc}); run 'qcassist train'.") from None
    fitted = Fitted(model, "finetuned", latest.body, holdout, note="head refitted on the body of model "
                    f"{latest.manifest['version']}")
    body_source = store.directory / "classifiers" / latest.manifest["version"]
    return _register(store, fitted, data, spec=latest.manifest["encoder_spec"], encoder_id=latest.manifest["encoder"],
                     codebook=codebook, started=started, body_from=(body_source, latest.manifest["body"]))


def _pair_inputs_of(store: Store, data: TrainingSet, context_words: int) -> list[str]:
    """The training units' pair inputs, read when a fine-tuning is about to run (not for a fast model).

    Read by unit id, not by reading the codings again: a review beside 'review --refine' records decisions
    while the fine-tuning starts, and those would change which units are coded.
    """
    ids = data.unit_ids.tolist()
    units = {unit.id: unit for unit in units_with_ids(store, ids)}
    if len(units) != len(ids):  # re-segmented meanwhile
        raise QcaError("the project's units changed while the model was training; run 'qcassist train' again.")
    return pair_inputs([units[i] for i in ids], context_words)


def _descriptions(codebook, data: TrainingSet, encode) -> dict[str, np.ndarray]:
    """Vectors of the descriptions of codes without coded units (suggested by similarity to them)."""
    described = [c for c in codebook.leaves if c.description and not (data.labels[:, data.codes.index(c.name)] == 1).any()]
    if not described:
        return {}
    vectors = encode([f"{c.name}: {c.description}" for c in described])
    return {c.name: v for c, v in zip(described, vectors)}


def _register(store: Store, fitted, data: TrainingSet, *, spec: str, encoder_id: str, codebook, started: datetime,
              body_from: tuple[Path, dict] | None = None, rescorer: CodeModel | None = None) -> TrainReport:
    """Save the model in a new version folder, then name it in the database: the folder goes if anything fails."""
    model = fitted.model
    data_hash = _training_hash(data)
    version, directory = _allocate_version(store, started.strftime("%Y%m%dT%H%M%S") + "-" + data_hash[:8])
    try:
        model.manifest.update(
            version=version, created_at=started.isoformat(timespec="seconds"), encoder=encoder_id, encoder_spec=spec,
            training_data_sha256=data_hash, codebook_sha256=_codebook_hash(codebook), units=len(data.texts),
            libraries=_library_versions(), **fitted.manifest(),
        )
        if fitted.body is not None:
            model.manifest["body"] = _save_body(fitted.body, directory, body_from)
            model.manifest["encoder"] = encoder_id = fitted.body.encoder().id
        if rescorer is not None:
            from .two_stage import RESCORER_DIR, rescorer_summary

            model.manifest["rescorer"] = rescorer_summary(rescorer)
            _save_model(rescorer, directory / RESCORER_DIR)
        _save_model(model, directory)
        with store.transaction():
            store.add_classifier(version, encoder_id, model.manifest)
            store.set_setting(ENCODER_SETTING, spec)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # the folder this process made, and nothing else
        raise
    seconds = (datetime.now(timezone.utc) - started).total_seconds()
    return TrainReport(version, encoder_id, len(data.texts), model.codes, model.exemplar_codes,
                       model.description_codes, model.manifest["examples_per_code"], seconds, method=fitted.method,
                       comparison=fitted.comparison, note=fitted.note, holdout_transcripts=fitted.holdout,
                       body=model.manifest.get("body"))


def _save_body(body, directory: Path, body_from: tuple[Path, dict] | None) -> dict:
    """The body's weights in the version folder; a refitted head's body is the same file, copied with its entry."""
    try:
        if body_from is None:
            return body.save(directory)
        source, entry = body_from
        for name in _body_files(entry):
            shutil.copyfile(source / name, directory / name)
        return entry
    except OSError as exc:
        raise QcaError(f"{directory}: could not save the fine-tuned body ({exc.strerror or exc}); nothing was registered.") from None


def _body_files(entry: dict) -> list[str]:
    """The files a body's manifest entry names (its ``file``, or each of ``files``)."""
    files = entry.get("files") or [entry.get("file", "body.safetensors")]
    return [f if isinstance(f, str) else f["name"] for f in files]


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
    if model.manifest.get("method") == "finetuned":
        from .train_methods import load_body

        model.body = load_body(directory, model.manifest)
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


def _options_of(model: CodeModel) -> TrainOptions:
    saved = dict(model.manifest["options"])
    from .features import FeatureConfig

    saved["features"] = FeatureConfig.from_dict(saved["features"])
    return TrainOptions(**saved)
