"""Issue 19: the registration form's long lists (organisations, countries, member governments,
time zones) are written once per process by ``OptionsOnce``; a page only marks the chosen option.
Its output must be WTForms' own ``Select``, byte for byte, whatever is chosen, in any language,
and a changed list must be written anew."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from wtforms.widgets import Select

from webinar_mgr.directory.models import SECTOR_CIVIL, SECTOR_MEMBER, SECTOR_PRIVATE, Organisation
from webinar_mgr.extensions import db
from webinar_mgr.registrations.forms import GuestRegistrationForm, OptionsOnce

FIELDS = ("organisation_id", "member_government_id", "country_code", "timezone")


def _form(app, data: dict):
    from webinar_mgr.directory import organisations as directory
    from webinar_mgr.directory import queries as directory_queries

    form = GuestRegistrationForm(data=data, meta={"csrf": False})
    form.set_choices(
        directory_queries.organisation_groups(), directory.member_government_choices(), directory.country_choices()
    )
    return form


@pytest.fixture
def orgs(app):
    gov = Organisation(name="Thailand", sector=SECTOR_MEMBER, country_code="TH")
    ngo = Organisation(name="Migrant Care Network", sector=SECTOR_CIVIL)
    biz = Organisation(name="Example & Co <Ltd>", sector=SECTOR_PRIVATE)
    db.session.add_all([gov, ngo, biz])
    db.session.commit()
    return {"gov": gov.id, "ngo": ngo.id, "biz": biz.id}


@pytest.mark.parametrize("language", ["en", "th", "zh_Hans"])
def test_the_same_markup_as_wtforms_select_whatever_is_chosen(app, orgs, language):
    cases = [
        {},
        {"organisation_id": orgs["ngo"], "country_code": "TH", "timezone": "Asia/Bangkok"},
        {"organisation_id": orgs["biz"], "member_government_id": orgs["gov"], "timezone": "Pacific/Auckland"},
        {"organisation_id": None, "country_code": "", "timezone": "UTC"},
        {"organisation_id": 999999, "country_code": "XX", "timezone": "Not/AZone"},  # chosen but not listed
    ]
    with app.test_request_context("/"), force_locale(language):
        for n, data in enumerate(cases):
            for _twice in range(2):  # written, then found
                form = _form(app, data)
                for name in FIELDS:
                    field = form[name]
                    assert isinstance(field.widget, OptionsOnce)
                    kept, plain = field.widget(field), Select()(field)
                    assert str(kept) == str(plain), (language, data, name)
                    if n in (1, 2) and name in data:  # a listed value chosen: marked once
                        assert str(kept).count(" selected") == 1, (data, name)


def test_a_new_organisation_is_offered_on_the_next_page(app, orgs):
    with app.test_request_context("/"):
        before = str(_form(app, {})["organisation_id"]())
        db.session.add(Organisation(name="Newly Reviewed Foundation", sector=SECTOR_CIVIL))
        db.session.commit()
        after = str(_form(app, {})["organisation_id"]())
    assert "Newly Reviewed Foundation" not in before
    assert "Newly Reviewed Foundation" in after


def test_one_list_in_two_languages_is_two_lists(app, orgs):
    with app.test_request_context("/"):
        with force_locale("en"):
            en = str(_form(app, {})["timezone"]())
        with force_locale("th"):
            th = str(_form(app, {})["timezone"]())
    assert en != th
    assert "Bangkok" in en and "กรุงเทพ" in th
