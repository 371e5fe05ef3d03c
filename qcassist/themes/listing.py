"""A theme run as text, rows (CSV/JSONL) and a YAML codebook draft that ``codebook import`` accepts."""

from __future__ import annotations

from typing import TextIO

from .build import ThemeRun, shorten

ROW_FIELDS = ("run_id", "theme", "group", "label", "rank", "similarity", "unit_id", "transcript", "speaker", "text")


def theme_rows(run: ThemeRun) -> list[dict]:
    """One row per unit: its theme (or 'none'), the theme's label, and how central the unit is."""
    rows = []
    for theme in run.themes:
        for rank, m in enumerate(theme.members, start=1):
            rows.append({"run_id": run.run_id, "theme": theme.id, "group": theme.group or "", "label": ", ".join(theme.label),
                         "rank": rank, "similarity": m.similarity, "unit_id": m.unit_id, "transcript": m.transcript,
                         "speaker": m.speaker or "", "text": m.text})
    for m in run.unthemed:
        rows.append({"run_id": run.run_id, "theme": "none", "group": "", "label": "", "rank": "", "similarity": m.similarity,
                     "unit_id": m.unit_id, "transcript": m.transcript, "speaker": m.speaker or "", "text": m.text})
    return rows


def draft_codebook(run: ThemeRun) -> dict:
    """The themes as a codebook tree: groups → themes, each theme's description ending in its marker for adopt --from."""
    from .adopt import draft_marker

    def item(theme) -> dict:
        return {"code": f"{theme.id} " + " / ".join(theme.label or ("unlabelled",)),
                "description": f"{theme.description} {draft_marker(theme, run.run_id)}"}

    if not run.groups:
        return {"exclusive": False, "codes": [item(t) for t in run.themes]}
    by_id = {t.id: t for t in run.themes}
    return {"exclusive": False, "codes": [
        {"code": f"{g.id} " + " / ".join(g.label or ("unlabelled",)), "children": [item(by_id[t]) for t in g.themes]}
        for g in run.groups
    ] + [item(t) for t in run.themes if t.group is None]}


def write_draft(run: ThemeRun, out: TextIO) -> None:
    import yaml

    out.write(f"# Preliminary themes, run {run.run_id}: rename, regroup or delete codes, keep the [theme ..] ends,\n"
              f"# then: qcassist themes adopt --from THIS_FILE{run_flags(run.parameters['options'])} (the run's options).\n")
    out.write(yaml.safe_dump(draft_codebook(run), sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000))


def listing(run: ThemeRun, *, quotes: int = 3) -> str:
    """The readable listing: groups, themes with label, size, participants and central quotations, and the rest."""
    lines = [f"{len(run.themes)} preliminary themes from {run.units} meaning units (run {run.run_id}, "
             f"encoder {run.parameters['encoder']}); {len(run.unthemed)} units fit no theme."]
    by_id = {t.id: t for t in run.themes}
    blocks = [(g, [by_id[t] for t in g.themes]) for g in run.groups]
    alone = [t for t in run.themes if t.group is None]
    if alone:
        blocks.append((None, alone))
    for group, themes in blocks:
        indent = ""
        if group is None and run.groups:
            lines += ["", "Themes in no group"]
        if group is not None:
            lines += ["", f"{group.id}  {', '.join(group.label)}  ({len(themes)} themes: {', '.join(t.id for t in themes)})"]
            indent = "  "
        for theme in themes:
            adopted = f"  [adopted as {run.adopted[theme.id]!r}]" if theme.id in run.adopted else ""
            lines += ["", f"{indent}{theme.id}  {', '.join(theme.label) or '(no distinctive terms)'}{adopted}",
                      f"{indent}    {len(theme.members)} units · {len(theme.participants)} of {run.participants} participants"]
            for q in theme.members[:quotes]:
                who = f"{q.transcript}, {q.speaker}" if q.speaker else q.transcript
                lines.append(f"{indent}    “{shorten(q.text, 160)}” ({who}; unit {q.unit_id})")
    if run.unthemed:
        lines += ["", f"Fit no theme: {len(run.unthemed)} units, {run.too_short} of them with fewer than "
                      f"{run.parameters['options']['min_words']} content words (listed in --format csv as theme 'none')."]
    for fit in run.adopted_fits:
        if fit.unit_ids:
            lines.append(f"Adopted code {fit.code!r}: {len(fit.unit_ids)} of {fit.new_units} units new since its adoption "
                         f"fit it (units {', '.join(map(str, fit.unit_ids[:10]))}{' …' if len(fit.unit_ids) > 10 else ''}).")
        elif fit.new_units:
            lines.append(f"Adopted code {fit.code!r}: none of {fit.new_units} units new since its adoption fits it.")
    same = run_flags(run.parameters["options"])
    lines += ["", f"Adopt one: qcassist themes adopt T1 --as NAME [--under GROUP]{same}; or edit --format yaml and "
                  f"adopt --from FILE{same}."]
    return "\n".join(lines) + "\n"


def run_flags(options: dict) -> str:
    """The options of a run that differ from the defaults, as flags: adopting without them groups other themes."""
    from shlex import quote

    from .build import ThemeOptions

    default = ThemeOptions()
    flags = []
    for name, value in options.items():
        if value == getattr(default, name) or (isinstance(value, list) and tuple(value) == getattr(default, name)):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            flags.append(f"{flag} {quote(','.join(value))}")
        else:
            flags.append(f"{flag} {quote(str(value))}")
    return "".join(" " + f for f in flags)
