"""Speakers and their roles: list them, set them, keep them the same for one person.

A turn's role decides whether it yields meaning units (``segment --role``, participant
by default). Roles are stored on the turns; a role set for the whole project with
``set_role`` is also remembered (setting ``speakers.roles``, person key → role) and
applied to transcripts imported later, so one person keeps one role.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from .codebook import did_you_mean
from .embed import DEFAULT_ENCODER
from .errors import QcaError
from .ingest.labels import POST_NOMINALS
from .ingest.roles import person_key, with_roles
from .model import ROLES
from .project import ROLE_SETTING, project_encoder, project_roles, select_transcripts
from .resegment import RoleReport, change_roles
from .store import Store


def speaker_rows(store: Store, transcripts: Sequence[str] = ()) -> list[dict]:
    """One row per speaker label per transcript: role, turns and words, in order of first turn."""
    rows = []
    # without names, one page of transcripts at a time: the rows are small, the texts are not kept
    for transcript in select_transcripts(store, transcripts) if transcripts else store.iter_transcripts():
        found: dict[str, dict] = {}
        for turn in transcript.turns:
            row = found.setdefault(turn.speaker, {
                "transcript": transcript.name, "speaker": turn.speaker, "role": turn.role, "turns": 0, "words": 0,
            })
            row["turns"] += 1
            row["words"] += len(transcript.turn_text(turn).split())
        rows.extend(found.values())
    return rows


def set_role(
    store: Store,
    name: str,
    role: str,
    *,
    transcripts: Sequence[str] = (),
    encoder: str = DEFAULT_ENCODER,
    progress: Callable[[str], None] | None = None,
) -> RoleReport:
    """Give speaker ``name`` (any label variant of that person) ``role`` in some or all transcripts.

    Segmented transcripts are re-segmented with their recorded options so that the
    right turns yield units; codings and review decisions move as with
    ``segment --resegment``, and if one would have no unit nothing is changed.
    """
    if role not in ROLES:
        raise QcaError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    chosen = select_transcripts(store, transcripts)
    labels = {t.speaker for transcript in chosen for t in transcript.turns}
    keys = _keys_named(name, labels)
    if not keys:
        where = f"transcripts {', '.join(transcripts)}" if transcripts else "the project"
        raise QcaError(f"no speaker {name!r} in {where}.{did_you_mean(name, sorted(labels))} "
                       "List them with 'qcassist speakers'.")
    updated = {t.id: with_roles(t, dict.fromkeys(keys, role)) for t in chosen}

    def remembered() -> dict[str, str]:  # read inside the write: another command may have remembered a role meanwhile
        if transcripts:
            return {}
        return {ROLE_SETTING: json.dumps(dict(project_roles(store), **dict.fromkeys(keys, role)), sort_keys=True)}

    return change_roles(store, chosen, updated, encoder_for=lambda spec: project_encoder(store, spec),
                        encoder=encoder, progress=progress, settings=remembered)


def _keys_named(name: str, labels: set[str]) -> list[str]:
    """The person keys of the labels ``name`` names: its own key, else the keys that differ from it only by
    post-nominals ('Lynne Neagle' names 'Lynne Neagle AM', and 'Lynne Neagle MS' after the title changed)."""
    key = person_key(name)
    keys = sorted({person_key(label) for label in labels})
    return [key] if key in keys else [k for k in keys if _without_post_nominals(k) == _without_post_nominals(key)]


_POST_NOMINALS = POST_NOMINALS - {"ma", "md"}  # also surnames: 'Jack' must not name 'Jack Ma'


def _without_post_nominals(key: str) -> str:
    words = key.split()
    while len(words) > 1 and words[-1].strip(".,") in _POST_NOMINALS:
        words.pop()
    return " ".join(words)


