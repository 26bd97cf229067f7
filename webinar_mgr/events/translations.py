"""Organisers' translations of an event (issue 13): title, summary, objectives and agenda item
titles per offered language. Readers see their language where a translation exists, else the
event's own (English) text with a note (``Event.shown``)."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from webinar_mgr.audit import services as audit
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import offered_languages
from webinar_mgr.persistence import transactional
from webinar_mgr.text import multi_line, single_line

from .models import AgendaItemTranslation, Event, EventTranslation

TITLE_MAX = 300
TEXT_MAX = 5000


def translation_languages() -> dict[str, str]:
    """The languages an event may be translated into: every offered one but the source (English)."""
    source = current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return {code: name for code, name in offered_languages().items() if code != source}


def check_language(language: str | None) -> str:
    languages = translation_languages()
    if language not in languages:
        msg = _(
            "“%(code)s” is not a language offered for translations; choose one of: %(languages)s.",
            code=(language or "")[:35],
            languages=", ".join(f"{name} ({code})" for code, name in languages.items()),
        )
        raise ValidationFailed(msg, field_errors={"language": [msg]})
    return language


@transactional
def save_translation(
    event: Event,
    language: str,
    *,
    title: str,
    summary: str = "",
    objectives: str = "",
    item_titles: dict[int, str] | None = None,
    actor,
) -> EventTranslation | None:
    """Save (or, when every field is blank, remove) the event's translation into ``language``."""
    language = check_language(language)
    title = single_line(title or "")
    summary = multi_line(summary or "").strip()
    lines = [single_line(o) for o in (objectives or "").splitlines()]
    objective_list = [o for o in lines if o]
    items = {item.id: item for item in event.agenda_items}
    item_titles = {int(k): single_line(v or "") for k, v in (item_titles or {}).items() if int(k) in items}
    errors: dict[str, list[str]] = {}
    if len(title) > TITLE_MAX:
        errors["title"] = [_("At most %(n)d characters.", n=TITLE_MAX)]
    if len(summary) > TEXT_MAX:
        errors["summary"] = [_("At most %(n)d characters.", n=TEXT_MAX)]
    if len("\n".join(objective_list)) > TEXT_MAX:
        errors["objectives"] = [_("At most %(n)d characters.", n=TEXT_MAX)]
    for item_id, text in item_titles.items():
        if len(text) > TITLE_MAX:
            errors[f"item-{item_id}"] = [_("At most %(n)d characters.", n=TITLE_MAX)]
    anything = title or summary or objective_list or any(item_titles.values())
    if anything and not title:
        errors["title"] = [_("Give the title in this language (the other fields may stay empty).")]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), field_errors=errors)

    for item_id, text in item_titles.items():
        item = items[item_id]
        row = next((t for t in item.translations if t.language == language), None)
        if text and row is None:
            item.translations.append(AgendaItemTranslation(language=language, title=text))
        elif text:
            row.title = text
        elif row is not None:
            item.translations.remove(row)
    current = event.translation_in(language)
    if not anything:
        if current is not None:
            event.translations.remove(current)
            audit.record(actor, "event.translation_removed", event, summary=language)
        return None
    if current is None:
        current = EventTranslation(language=language, title=title)
        event.translations.append(current)
    current.title, current.summary, current.objectives = title, summary, objective_list
    db.session.flush()
    audit.record(actor, "event.translation", event, summary=language)
    return current
