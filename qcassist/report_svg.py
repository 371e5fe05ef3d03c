"""The report's markup pieces: tables, inline SVG charts and shaded tables, written by hand so the report needs
no library or network.

Every function returns markup in which all text from the caller is escaped (``Html`` values are already markup).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

MAX_TABLE_ROWS = 200
SERIES_COLOURS = ("#1f6fb2", "#d9731a", "#2e9e5b", "#b23a48", "#7a5cb8", "#8c6d31", "#3c8d99", "#666666")
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


class Html(str):
    """Markup we built, already escaped; any other value put in a table is escaped."""


def _cell(value) -> str:
    if isinstance(value, Html):
        return value
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence], *, caption: str = "",
          limit: int | None = MAX_TABLE_ROWS) -> Html:
    """A table of values (escaped) and Html cells, numbers right-aligned; rows past ``limit`` are counted, not shown."""
    shown = rows if limit is None else rows[:limit]
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in shown:
        cells = "".join(
            f'<td class="num">{_cell(v)}</td>' if isinstance(v, (int, float)) else f"<td>{_cell(v)}</td>" for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    if len(shown) < len(rows):
        body.append(f'<tr><td colspan="{len(headers)}" class="note">… and {len(rows) - len(shown)} more rows</td></tr>')
    caption_html = f"<caption>{escape(caption)}</caption>" if caption else ""
    return Html(f"<table>{caption_html}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def note(text: str) -> Html:
    """A muted paragraph of plain text."""
    return Html(f'<p class="note">{escape(text)}</p>')


def figure(chart: Html, caption: str) -> Html:
    """A chart with its caption."""
    return Html(f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>")


def section(anchor: str, title: str, parts: Sequence[Html]) -> Html:
    """A report section that the page's navigation links to by ``anchor``."""
    return Html(f'<section id="{anchor}"><h2>{escape(title)}</h2>{"".join(parts)}</section>')



def _svg(width: float, height: float, label: str, body: list[str]) -> Html:
    """An SVG element with an accessible name; ``body`` is markup already escaped.

    No xmlns: SVG inside HTML does not need one, and the report then holds no URL at all.
    """
    return Html(
        f'<svg width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}" {FONT}>'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    items: Sequence[tuple[str, float | None]], *, label: str, maximum: float = 1.0, bar_width: float = 280
) -> Html:
    """Horizontal bars, one per (name, value); a missing value is drawn as 'n/a'."""
    label_width, row, value_width = 170, 18, 48
    height = row * len(items) + 8
    body = []
    for i, (name, value) in enumerate(items):
        y = 4 + i * row
        # the full name stays in a tooltip when the visible one is shortened
        body.append(f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end">'
                    f"<title>{escape(name)}</title>{escape(_short(name, 26))}</text>")
        if value is None:
            body.append(f'<text x="{label_width + 4}" y="{y + 12}" fill="#777">n/a</text>')
            continue
        length = bar_width * max(0.0, min(value, maximum)) / maximum if maximum else 0.0
        body.append(f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 5}" fill="{SERIES_COLOURS[0]}"/>')
        body.append(f'<text x="{label_width + length + 4:.1f}" y="{y + 12}">{value:.2f}</text>')
    return _svg(label_width + bar_width + value_width, height, label, body)


def line_chart(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    label: str,
    y_range: tuple[float, float] | None = None,
) -> Html:
    """Lines over evenly spaced categories (e.g. training sizes, days), with a legend; gaps where a value is None."""
    width, height, left, right, top, bottom = 440, 220, 44, 120, 10, 40
    values = [v for points in series.values() for v in points if v is not None]
    low, high = y_range if y_range is not None else (min([0.0, *values]), max([1.0, *values]))
    if high <= low:
        high = low + 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(x_labels) - 1)

    def x(i: int) -> float:
        return left + (i * step if len(x_labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>']
    for tick in _ticks(low, high):
        body.append(f'<line x1="{left - 3}" y1="{y(tick):.1f}" x2="{left + plot_w}" y2="{y(tick):.1f}" stroke="#eee"/>')
        body.append(f'<text x="{left - 5}" y="{y(tick) + 4:.1f}" text-anchor="end">{_tick_text(tick)}</text>')
    every = max(1, len(x_labels) // 8)  # at most about eight category labels fit under the axis
    for i, name in enumerate(x_labels):
        if i % every == 0 or i == len(x_labels) - 1:
            body.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(_short(name, 12))}</text>')
    for n, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        for run in _runs(points):
            coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
            body.extend(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>' for i, v in run)
        body.append(f'<rect x="{left + plot_w + 12}" y="{top + 4 + n * 16}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{left + plot_w + 26}" y="{top + 13 + n * 16}">{escape(_short(name, 16))}</text>')
    return _svg(width, height, label, body)


def _runs(points: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive stretches of known values, so a missing value breaks the line instead of faking one."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(points):
        if v is None:
            runs.append([])
        else:
            runs[-1].append((i, v))
    return [run for run in runs if run]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * k / (count - 1) for k in range(count)]


def _tick_text(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2f}"


def reliability_diagram(bins: Sequence[dict], *, label: str) -> Html:
    """Accuracy per confidence bin against the diagonal of perfect calibration; bins are calibration_bins() dicts."""
    size, margin = 240, 40
    body = [f'<rect x="{margin}" y="10" width="{size}" height="{size}" fill="none" stroke="#999"/>',
            f'<line x1="{margin}" y1="{10 + size}" x2="{margin + size}" y2="10" stroke="#999" stroke-dasharray="4 3"/>']
    for b in bins:
        if not b.get("count") or b.get("accuracy") is None:
            continue
        x0, width = margin + size * b["low"], size * (b["high"] - b["low"])
        height = size * b["accuracy"]
        body.append(f'<rect x="{x0 + 1:.1f}" y="{10 + size - height:.1f}" width="{max(0.0, width - 2):.1f}" '
                    f'height="{height:.1f}" fill="{SERIES_COLOURS[0]}" fill-opacity="0.75">'
                    f'<title>{b["low"]:.1f}–{b["high"]:.1f}: {b["count"]} predictions, mean confidence '
                    f'{b["confidence"]:.2f}, accuracy {b["accuracy"]:.2f}</title></rect>')
        cx = margin + size * b["confidence"]
        body.append(f'<circle cx="{cx:.1f}" cy="{10 + size - height:.1f}" r="3" fill="{SERIES_COLOURS[1]}"/>')
    for tick in (0.0, 0.5, 1.0):
        body.append(f'<text x="{margin + size * tick:.1f}" y="{size + 24}" text-anchor="middle">{tick:.1f}</text>')
        body.append(f'<text x="{margin - 4}" y="{14 + size * (1 - tick):.1f}" text-anchor="end">{tick:.1f}</text>')
    body.append(f'<text x="{margin + size / 2}" y="{size + 38}" text-anchor="middle">confidence</text>')
    body.append(f'<text x="10" y="{10 + size / 2}" text-anchor="middle" transform="rotate(-90 10 {10 + size / 2})">accuracy</text>')
    return _svg(size + margin + 10, size + 46, label, body)


def heatmap_table(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    matrix: Sequence[Sequence[int | float]],
    *,
    corner: str = "",
    caption: str = "",
) -> Html:
    """An HTML table whose cells are shaded by their value (a confusion matrix, codes × transcripts)."""
    largest = max((v for row in matrix for v in row), default=0) or 1
    head = "".join(f'<th class="rot" title="{escape(c)}"><span>{escape(_short(c, 24))}</span></th>' for c in column_labels)
    rows = []
    for name, values in zip(row_labels, matrix, strict=True):
        cells = "".join(_heat_cell(v, largest) for v in values)
        rows.append(f'<tr><th scope="row" title="{escape(name)}">{escape(_short(name, 40))}</th>{cells}</tr>')
    caption_html = f"<caption>{escape(caption)}</caption>" if caption else ""
    return Html(f'<table class="heat">{caption_html}<thead><tr><th>{escape(corner)}</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _heat_cell(value: int | float, largest: float) -> str:
    share = value / largest
    # dark text on light cells and light text on dark ones keeps every number readable
    colour = "#fff" if share > 0.55 else "#111"
    text = "" if value == 0 else (f"{value:g}" if isinstance(value, int) else f"{value:.2f}")
    return f'<td style="background: rgba(31, 111, 178, {share:.2f}); color: {colour}">{text}</td>'


# --- the page ----------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #111; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #1f6fb2; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 1.5em 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
thead th { background: #f2f4f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.note, .meta { color: #555; } .empty { font-weight: 600; }
.description { color: #666; font-size: 0.85em; }
.level-group { font-weight: 700; } .level-subgroup { font-weight: 600; }
.side { display: flex; flex-wrap: wrap; align-items: flex-start; }
table.heat td { text-align: center; min-width: 1.8em; }
table.heat th.rot { vertical-align: bottom; }
table.heat th.rot span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
figure { margin: 0.5em 0 1em 0; } figcaption { color: #555; font-size: 0.85em; }
@media print { nav { display: none; } section { break-inside: avoid-page; } }
"""
# nothing may load: no script, no image, no font, no frame; only the inline style
POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def page(title: str, subtitle: str, contents: Sequence[tuple[str, str]], sections: Sequence[Html]) -> str:
    """A whole HTML document: title, a line under it, links to (anchor, name) ``contents``, the sections."""
    nav = "".join(f'<a href="#{escape(anchor)}">{escape(name)}</a>' for anchor, name in contents)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="meta">{escape(subtitle)}</p><nav>{nav}</nav></header>'
        f"<main>{''.join(sections)}</main></body></html>\n"
    )
