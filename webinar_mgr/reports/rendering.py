"""The review's tables as HTML rows built in Python (issue 19).

A grid of 200 events by 45 member governments is 9,000 cells; a Jinja macro per cell with a
translation call inside took seconds. Here every label is translated once per table and each
cell is a string join; every value is escaped (``markupsafe.escape``), so the result is as safe
as the template it replaces. The page (``templates/reports/_macros.html``) and the activity
report PDF call :func:`table_rows` through the ``report_rows`` template global.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel import dates
from flask_babel import get_babel, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

_BADGES = {"present": "badge-ok", "absent": "badge-bad"}


def _date_format(name: str) -> str:
    """flask_babel's rule for ``format_date(value, name)``: the app's ``Babel.date_formats``
    entry when it sets one, else the locale's own pattern of that name."""
    return get_babel().instance.date_formats.get(f"date.{name}") or name


class _Labels:
    """The few labels a table's cells need, translated once per table; the locale and the date
    pattern looked up once too (flask_babel's ``format_date`` looks them up per call: 200 dates,
    12-17 ms; Babel's own function with them given, 2 ms)."""

    def __init__(self) -> None:
        self.not_applicable = escape(_("not applicable"))
        self.not_registered = escape(_("not registered"))
        self.did_not_attend = escape(_("registered, did not attend"))
        # Without arguments gettext returns the translated pattern itself; filled in per cell.
        self.attended_of = _("%(a)d of %(r)d attended")
        self.locale = get_locale()
        self.medium_date = _date_format("medium")
        # The grid's cells repeat (the same attended/registered pair): each built once per table.
        self.grid_cells: dict[tuple[int, int], str] = {}

    def date(self, value) -> str:
        return dates.format_date(value, self.medium_date, locale=self.locale)

    def grid_cell(self, value: tuple[int, int]) -> str:
        html = self.grid_cells.get(value)
        if html is None:
            html = self.grid_cells[value] = self._grid_cell(*value)
        return html

    def _grid_cell(self, attended: int, registered: int) -> str:
        if attended:
            title = escape(self.attended_of % {"a": attended, "r": registered})
            return f'<td class="gcell gcell-yes" title="{title}">{attended}/{registered}</td>'
        if registered:
            return f'<td class="gcell gcell-no" title="{self.did_not_attend}">0/{registered}</td>'
        return (
            f'<td class="gcell gcell-none" title="{self.not_registered}">'
            f'<span aria-label="{self.not_registered}">·</span></td>'
        )


def _cell(kind: str, value, row_class: str, labels: _Labels) -> str:
    if kind == "int":
        # an int's digits need no escaping (escape() made a Markup of each: 4,000 calls a page)
        return f'<td class="num">{value if type(value) is int else escape(value)}</td>'
    if kind == "pct":
        if value is None:
            return f'<td class="num"><span aria-label="{labels.not_applicable}">–</span></td>'
        return f'<td class="num">{value * 100:.0f}&nbsp;%</td>'
    if kind == "date":
        return f"<td>{escape(labels.date(value)) if value else ''}</td>"
    if kind == "cell":
        return labels.grid_cell(tuple(value))
    if kind == "mark":
        if not value:
            return "<td></td>"
        badge = _BADGES.get(row_class, "badge-warn")
        return f'<td><span class="badge {badge}">{escape(value)}</span></td>'
    return f"<td>{escape(value) if value is not None else ''}</td>"


def table_rows(
    table, links: Sequence[str] | None = None, *, skip: Sequence[int] = (), row_headers: bool = True
) -> Markup:
    """The ``<tr>`` rows of a :class:`~webinar_mgr.reports.services.Table` (its body, without
    ``<tbody>``): the first cell a row header (``row_headers``), the third a link where ``links``
    gives one, columns in ``skip`` left out (the PDF's shorter tables)."""
    labels = _Labels()
    kinds = [(i, c.kind) for i, c in enumerate(table.columns) if i not in skip]
    classes = table.row_classes
    out: list[str] = []
    for r, row in enumerate(table.rows):
        rc = classes[r] if r < len(classes) else ""
        link = links[r] if links and r < len(links) else None
        parts = [f'<tr class="{escape(rc)}">']
        for i, kind in kinds:
            value = row[i]
            if i == 0 and row_headers:
                parts.append("<td></td>" if value in (None, "") else f'<th scope="row">{escape(value)}</th>')
            elif link and i == 2:
                parts.append(f'<td><a href="{escape(link)}">{escape(value)}</a></td>')
            else:
                parts.append(_cell(kind, value, rc, labels))
        parts.append("</tr>")
        out.append("".join(parts))
    return Markup("\n".join(out))
