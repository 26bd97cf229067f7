"""The co-chairs' statement as PDF (WeasyPrint through pdfs.py, Noto fonts) and as DOCX
(python-docx): statements are finished in Word. Both write every section's text as text (markup
typed into a section stays visible as typed); the activity report is the annex, linked, or
appended to the PDF on request."""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.shared import Pt
from flask import current_app, render_template
from flask_babel import gettext as _

from webinar_mgr import clock, pdfs

from .statement import Statement, paragraphs

CSS_FILE = "pdf/statement.css"


def _title(statement: Statement) -> str:
    return _(
        "Co-Chairs' statement: %(start)s to %(end)s",
        start=statement.start.isoformat(),
        end=statement.end.isoformat(),
    )


def _version_line(statement: Statement) -> str:
    v = statement.version
    if v is None:
        return _("Draft generated from the data, not saved.")
    return _(
        "Version %(number)d, saved by %(name)s on %(when)s (UTC).",
        number=v.number,
        name=v.created_by_name,
        when=v.created_at.strftime("%Y-%m-%d %H:%M"),
    )


def statement_html(statement: Statement, *, annex_url: str) -> str:
    return render_template(
        "pdf/statement.html",
        statement=statement,
        title=_title(statement),
        version_line=_version_line(statement),
        blocks=[(label, paragraphs(text_)) for _key, label, text_ in statement.sections],
        annex_url=annex_url,
        issued_on=clock.now().date(),
        org_name=current_app.config.get("ORGANISATION_NAME"),
    )


def render_statement_pdf(statement: Statement, *, annex_url: str, annex_pdf_html: str | None = None) -> bytes:
    """The statement as PDF; with ``annex_pdf_html`` (the activity report's HTML) its pages follow."""
    # import here: WeasyPrint is heavy (Pango, fonts); only the PDF download needs it.
    from weasyprint import CSS, HTML

    templates = Path(current_app.root_path).parent / "templates"
    fetcher = pdfs.url_fetcher()  # the app's static files only: no file:, no network
    html = statement_html(statement, annex_url=annex_url)
    doc = HTML(string=html, base_url=pdfs.base_url(), url_fetcher=fetcher).render(
        stylesheets=[CSS(filename=str(templates / CSS_FILE), url_fetcher=fetcher)]
    )
    if annex_pdf_html is None:
        return doc.write_pdf()
    annex = HTML(string=annex_pdf_html, base_url=pdfs.base_url(), url_fetcher=fetcher).render(
        stylesheets=[CSS(filename=str(templates / "reports/activity_report_pdf.css"), url_fetcher=fetcher)]
    )
    return doc.copy([*doc.pages, *annex.pages]).write_pdf()


def render_statement_docx(statement: Statement, *, annex_url: str) -> bytes:
    """The statement as a Word document: a heading per section, paragraphs and bullets as typed."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Noto Sans"
    style.font.size = Pt(11)
    document.core_properties.title = _title(statement)
    document.add_heading(_title(statement), level=0)
    document.add_paragraph(_version_line(statement))
    for _key, label, text_ in statement.sections:
        document.add_heading(label, level=1)
        blocks = paragraphs(text_)
        if not blocks:
            document.add_paragraph("")
        for block in blocks:
            for kind, line in block:
                # add_paragraph writes the text as a run: nothing in it is read as markup.
                document.add_paragraph(line, style="List Bullet" if kind == "li" else None)
    document.add_heading(_("Annex: activity report"), level=1)
    document.add_paragraph(_("The statistics of the period (events, attendance, sectors, commitments):"))
    document.add_paragraph(annex_url)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
