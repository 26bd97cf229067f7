"""Directory services without HTTP: validation, audit, search, CSV import preview/import, seed."""

from __future__ import annotations

import codecs

import pytest
import sqlalchemy as sa

from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Contact, Organisation, Tag
from webinar_mgr.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404


@pytest.fixture
def orgs(organiser):
    th = directory.create_organisation(
        directory.OrganisationData(
            name="Thailand", sector="member_government", country_code="th", working_group_member=True
        ),
        actor=organiser,
    )
    iom = directory.create_organisation(
        directory.OrganisationData(
            name="International Organization for Migration", short_name="IOM", sector="international_organisation"
        ),
        actor=organiser,
    )
    ngo = directory.create_organisation(
        directory.OrganisationData(name="Freedom Path Foundation", sector="civil_society"), actor=organiser
    )
    return {"th": th, "iom": iom, "ngo": ngo}


def _contact(actor, **kw):
    data = dict(name="Somchai Jaidee", email="somchai@example.go.th")
    data.update(kw)
    return directory.create_contact(directory.ContactData(**data), actor=actor)


def _entries(action):
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# Contacts and organisations ----------------------------------------------------------------------


def test_create_contact_normalises_and_audits(organiser, orgs):
    c = _contact(
        organiser,
        email="  Somchai@Example.GO.TH ",
        organisation_id=orgs["th"].id,
        focal_point=True,
        tags="Focal-Point, technology;  technology",
        timezone="Asia/Bangkok",
        position=" Officer ",
    )
    assert c.email == "somchai@example.go.th"
    assert c.tag_names == ["focal-point", "technology"]
    assert c.position == "Officer"
    entry = _entries("contact.create")[-1]
    assert entry.actor_id == organiser.id and entry.object_id == str(c.id)
    assert entry.changes["email"] == [None, "somchai@example.go.th"]
    assert entry.changes["organisation"] == [None, "Thailand"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tag)) == 2


def test_update_contact_records_a_diff(organiser, orgs):
    c = _contact(organiser, tags="speaker")
    directory.update_contact(
        c,
        directory.ContactData(
            name="Somchai Jaidee",
            email="somchai@example.go.th",
            organisation_id=orgs["iom"].id,
            position="Analyst",
            tags="speaker, covid-recovery",
        ),
        actor=organiser,
    )
    entry = _entries("contact.update")[-1]
    assert entry.changes == {
        "organisation": [None, "International Organization for Migration"],
        "position": [None, "Analyst"],
        "tags": ["speaker", "covid-recovery, speaker"],
    }
    # Saving without changes adds no entry.
    directory.update_contact(
        c,
        directory.ContactData(
            name="Somchai Jaidee",
            email="somchai@example.go.th",
            organisation_id=orgs["iom"].id,
            position="Analyst",
            tags="speaker, covid-recovery",
        ),
        actor=organiser,
    )
    assert len(_entries("contact.update")) == 1


def test_duplicate_email_in_another_case_is_refused(organiser):
    first = _contact(organiser)
    with pytest.raises(Conflict) as exc:
        _contact(organiser, name="Someone Else", email="SOMCHAI@example.go.th")
    assert "email" in exc.value.field_errors
    other = _contact(organiser, name="Other", email="other@example.org")
    with pytest.raises(Conflict):
        directory.update_contact(
            other, directory.ContactData(name="Other", email="Somchai@Example.go.th"), actor=organiser
        )
    db.session.rollback()
    assert db.session.get(Contact, other.id).email == "other@example.org"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 2
    assert first.id


@pytest.mark.parametrize(
    "field,kw",
    [
        ("email", {"email": "not-an-email"}),
        ("email", {"email": "a@b"}),
        ("name", {"name": "   "}),
        ("timezone", {"timezone": "Mars/Olympus"}),
        ("organisation_id", {"organisation_id": 999999}),
    ],
)
def test_contact_validation_names_the_field(organiser, field, kw):
    with pytest.raises(ValidationFailed) as exc:
        _contact(organiser, **kw)
    assert field in exc.value.field_errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_organisation_rules(organiser, orgs):
    with pytest.raises(Conflict) as exc:
        directory.create_organisation(
            directory.OrganisationData(name="THAILAND", sector="member_government"), actor=organiser
        )
    assert "name" in exc.value.field_errors
    with pytest.raises(ValidationFailed) as exc:
        directory.create_organisation(directory.OrganisationData(name="X", sector="aliens"), actor=organiser)
    assert "sector" in exc.value.field_errors
    assert orgs["th"].country_code == "TH"
    directory.update_organisation(
        orgs["ngo"],
        directory.OrganisationData(
            name="Freedom Path Foundation", sector="civil_society", website="https://fp.example.org"
        ),
        actor=organiser,
    )
    entry = _entries("organisation.update")[-1]
    assert entry.changes == {"website": [None, "https://fp.example.org"]}
    assert len(_entries("organisation.create")) == 3


def test_search_and_filters(organiser, orgs):
    _contact(
        organiser,
        name="Zed Zulu",
        email="zed@example.org",
        organisation_id=orgs["th"].id,
        focal_point=True,
        tags="technology",
    )
    _contact(
        organiser,
        name="amy Able",
        email="amy@example.org",
        organisation_id=orgs["iom"].id,
        position="Protection Officer",
    )
    _contact(organiser, name="Bob Brown", email="bob@ngo.example.org", organisation_id=orgs["ngo"].id)
    _contact(organiser, name="No Org", email="noorg@example.org")

    def names(**kw):
        return [c.name for c in directory.search_contacts(directory.ContactFilters(**kw)).items]

    assert names() == ["amy Able", "Bob Brown", "No Org", "Zed Zulu"]  # by name, case-insensitive
    assert names(q="PROTECTION") == ["amy Able"]
    assert names(q="ngo.example") == ["Bob Brown"]
    assert names(organisation_id=orgs["iom"].id) == ["amy Able"]
    assert names(sector="civil_society") == ["Bob Brown"]
    assert names(member_government_id=orgs["th"].id) == ["Zed Zulu"]
    assert names(member_government_id=orgs["iom"].id) == []  # not a member government
    assert names(tag="Technology") == ["Zed Zulu"]
    assert names(focal_only=True) == ["Zed Zulu"]
    page = directory.search_contacts(directory.ContactFilters(), page=2, per_page=3)
    assert [c.name for c in page.items] == ["Zed Zulu"] and page.total == 4


def test_organisation_list_counts(organiser, orgs):
    _contact(organiser, name="A", email="a@example.org", organisation_id=orgs["th"].id, focal_point=True)
    _contact(organiser, name="B", email="b@example.org", organisation_id=orgs["th"].id)
    page = directory.search_organisations()
    counts = {r.organisation.name: (r.contacts, r.focal_points) for r in page.rows}
    assert counts == {
        "Freedom Path Foundation": (0, 0),
        "International Organization for Migration": (0, 0),
        "Thailand": (2, 1),
    }
    assert [r.organisation.name for r in directory.search_organisations(working_group=True).rows] == ["Thailand"]
    assert [r.organisation.name for r in directory.search_organisations(q="iom").rows] == [
        "International Organization for Migration"
    ]
    assert [r.organisation.name for r in directory.search_organisations(sector="civil_society").rows] == [
        "Freedom Path Foundation"
    ]


def test_get_missing_objects_is_not_found(app):
    with pytest.raises(NotFound):
        get_or_404(Contact, 12345)
    with pytest.raises(NotFound):
        get_or_404(Organisation, 12345)


# CSV import --------------------------------------------------------------------------------------

GOOD_ROWS = [
    [
        "Nguyễn Thị Lan",
        "lan@example.gov.vn",
        "Thailand",
        "Deputy Director",
        "yes",
        "focal-point; technology",
        "",
        "Asia/Ho_Chi_Minh",
    ],
    ["สมชาย ใจดี", "Somchai@Example.go.th", "iom", "", "no", "", "+66 2 000", ""],
    ["Pan Phyu", "pan@example.org", "", "Case Worker", "x", "speaker", "", ""],
]


def _csv(
    rows,
    *,
    sep=",",
    header=("Full name", "E-mail", "Organization", "Position", "Focal point", "Tags", "Phone", "Time zone"),
):
    def cell(v):
        return f'"{v}"' if (sep in v or ";" in v or "," in v) else v

    lines = [sep.join(header)] + [sep.join(cell(v) for v in r) for r in rows]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + _csv(GOOD_ROWS).encode("utf-8"),
        lambda t: _csv(GOOD_ROWS, sep=";").encode("utf-8"),
        lambda t: _csv(GOOD_ROWS, sep="\t").encode("utf-16"),  # Excel "Unicode text": UTF-16 with BOM, tabs
    ],
    ids=["utf8-bom-comma", "semicolon", "utf16-tab"],
)
def test_import_happy_path(organiser, orgs, encode):
    preview = directory.preview_contacts_csv(encode(None))
    assert preview.file_errors == []
    assert [r.errors for r in preview.rows] == [[], [], []]
    assert preview.ok and preview.count == 3 and preview.error_count == 0
    assert [r.line for r in preview.rows] == [2, 3, 4]
    lan, somchai, pan = preview.rows
    assert lan.organisation.id == orgs["th"].id and lan.tags == ["focal-point", "technology"] and lan.focal_point
    assert somchai.organisation.id == orgs["iom"].id and somchai.email == "somchai@example.go.th"
    assert somchai.name == "สมชาย ใจดี" and not somchai.focal_point and pan.focal_point
    contacts = directory.import_contacts(preview, actor=organiser)
    db.session.commit()
    assert len(contacts) == 3
    stored = db.session.scalar(sa.select(Contact).where(Contact.email == "lan@example.gov.vn"))
    assert stored.name == "Nguyễn Thị Lan" and stored.timezone == "Asia/Ho_Chi_Minh"
    assert stored.tag_names == ["focal-point", "technology"]
    entry = _entries("contact.import")[-1]
    assert entry.changes["count"] == [0, 3] and entry.actor_id == organiser.id


def _problems(data: bytes, **kw):
    preview = directory.preview_contacts_csv(data, **kw)
    return preview, [(r.line, r.errors) for r in preview.rows]


def test_row_problems_are_each_named(organiser, orgs):
    _contact(organiser, name="Already Here", email="here@example.org")
    data = _csv(
        [
            ["Good Person", "good@example.org", "", "", "", "", "", ""],
            ["Bad Email", "bad-at-example.org", "", "", "", "", "", ""],
            ["Unknown Org", "unknown@example.org", "Ministry of Magic", "", "", "", "", ""],
            ["Dup One", "dup@example.org", "", "", "", "", "", ""],
            ["Dup Two", "DUP@example.org", "", "", "", "", "", ""],
            ["Old Friend", "Here@Example.org", "", "", "", "", "", ""],
            ["", "noname@example.org", "", "", "", "", "", ""],
            ["Weird Focal", "focal@example.org", "", "", "maybe", "", "", ""],
            ["Bad Zone", "zone@example.org", "", "", "", "", "", "Asia/Atlantis"],
        ]
    ).encode()
    preview, problems = _problems(data)
    by_line = dict(problems)
    assert by_line[2] == []
    assert by_line[3][0].startswith("Bad email") and "bad-at-example.org" in by_line[3][0]
    assert by_line[4] == [
        "Unknown organisation: “Ministry of Magic” is not in the directory (add it first, or "
        "use its exact name or short name)."
    ]
    assert by_line[5] == [] and by_line[6] == ["Duplicate: the same email as line 5."]
    assert by_line[7] == ["Already in the directory: here@example.org belongs to Already Here."]
    assert by_line[8] == ["Missing name."]
    assert "maybe" in by_line[9][0]
    assert "Asia/Atlantis" in by_line[10][0]
    assert not preview.ok and preview.error_count == 7 and preview.count == 2


def test_allow_existing_reuses_the_contact(organiser, orgs):
    here = _contact(organiser, name="Already Here", email="here@example.org")
    data = _csv(
        [
            ["Old Friend", "HERE@example.org", "Thailand", "Adviser", "", "", "", ""],
            ["New Guest", "guest@example.org", "", "", "", "", "", ""],
        ]
    ).encode()
    preview, problems = _problems(data, allow_existing=True)
    assert problems == [(2, []), (3, [])]
    assert preview.rows[0].existing.id == here.id
    with pytest.raises(ValidationFailed):
        directory.import_contacts(preview, actor=organiser)  # the caller must allow it on import too
    contacts = directory.import_contacts(preview, actor=organiser, allow_existing=True)
    db.session.commit()
    assert contacts[0].id == here.id and contacts[0].name == "Already Here"
    assert contacts[0].organisation_id == orgs["th"].id and contacts[0].position == "Adviser"  # blanks filled
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 2


@pytest.mark.parametrize(
    "data,expected",
    [
        (
            (
                "name,email\nJosé Müller,jose@example.org\nFrançoise Côté,f@example.org\nRené Ångström,r@example.org\n"
            ).encode("cp1252"),
            "Wrong encoding",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"name,phone\nA,1\n", "Missing column(s): email"),
        (b"name,email\n", "no contacts"),
    ],
    ids=["cp1252", "binary", "empty", "blank", "missing-column", "header-only"],
)
def test_file_problems(app, data, expected):
    preview = directory.preview_contacts_csv(data)
    assert preview.rows == [] and not preview.ok
    assert len(preview.file_errors) == 1 and expected in preview.file_errors[0], preview.file_errors


def test_nul_characters_in_cells_are_dropped(organiser, orgs):
    # The NUL comes after the first 4 KiB, which csvio checks for binary content.
    data = (
        "name,email,organisation,comment\nPad,pad@example.org,,"
        + "x" * 5000
        + "\nA\x00B,ab@example.org,Thai\x00land,\n"
    ).encode()
    preview = directory.preview_contacts_csv(data)
    assert preview.ok, [r.errors for r in preview.rows]
    assert preview.rows[1].name == "AB" and preview.rows[1].organisation.id == orgs["th"].id


def test_too_large_uses_the_configured_limit(app):
    data = _csv(GOOD_ROWS).encode()
    app.config["CSV_MAX_BYTES"] = len(data) - 1
    preview = directory.preview_contacts_csv(data)
    assert "too large" in preview.file_errors[0]
    app.config["CSV_MAX_BYTES"] = len(data)
    assert directory.preview_contacts_csv(data).file_errors == []


def test_one_bad_row_imports_nothing(organiser, orgs):
    rows = [[f"Person {i}", f"p{i}@example.org", "", "", "", "", "", ""] for i in range(5)]
    rows.append(["Bad", "bad@", "", "", "", "", "", ""])
    upload, preview = directory.stage_contacts_upload("c.csv", _csv(rows).encode(), actor=organiser)
    assert upload is not None and preview.error_count == 1
    with pytest.raises(ValidationFailed) as exc:
        directory.confirm_contacts_upload(upload.id, actor=organiser)
    assert "Nothing was imported" in exc.value.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    assert _entries("contact.import") == []
    assert db.session.get(PendingUpload, upload.id) is not None  # still there to look at


def test_confirm_imports_and_deletes_the_upload(organiser, orgs):
    upload, preview = directory.stage_contacts_upload("c.csv", _csv(GOOD_ROWS).encode(), actor=organiser)
    assert preview.ok
    contacts = directory.confirm_contacts_upload(upload.id, actor=organiser)
    assert len(contacts) == 3
    assert db.session.get(PendingUpload, upload.id) is None
    with pytest.raises(NotFound):
        directory.confirm_contacts_upload(upload.id, actor=organiser)


def test_only_the_owner_can_confirm(organiser, orgs, make_user):
    other = make_user("organiser", email="other-organiser@example.org")
    upload, _ = directory.stage_contacts_upload("c.csv", _csv(GOOD_ROWS).encode(), actor=organiser)
    with pytest.raises(NotAllowed):
        directory.confirm_contacts_upload(upload.id, actor=other)
    with pytest.raises(NotAllowed):
        directory.pending_preview(upload.id, actor=other)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_unreadable_file_is_not_stored(organiser):
    upload, preview = directory.stage_contacts_upload("x.csv", b"\x00\x01\x02", actor=organiser)
    assert upload is None and preview.file_errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingUpload)) == 0


def test_template_is_a_valid_import(organiser, make_user):
    from webinar_mgr.directory.seed import seed

    seed(lambda *a: None)
    db.session.execute(sa.delete(Contact))
    db.session.commit()
    preview = directory.preview_contacts_csv(directory.csv_template())
    assert preview.ok and preview.count == 1
    assert preview.rows[0].organisation.name == "Thailand"


# Seed --------------------------------------------------------------------------------------------


def test_seed_is_idempotent_and_has_the_member_list(app):
    from webinar_mgr.auth.seed import seed as auth_seed
    from webinar_mgr.directory.seed import seed

    lines = []
    seed(lines.append)
    auth_seed(lines.append)  # the seeds run in the order of layers.MODULES: auth after directory
    db.session.commit()

    def counts():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Organisation, Contact, Tag))

    first = counts()
    members = db.session.scalars(sa.select(Organisation).where(Organisation.sector == "member_government")).all()
    assert len(members) == 45
    assert all(m.country_code for m in members)
    wg = {m.name for m in members if m.working_group_member}
    assert len(wg) == 16 and {"Australia", "Indonesia", "Viet Nam"} <= wg and "Fiji" not in wg
    assert 55 <= first[1] <= 70
    assert {
        o.short_name
        for o in db.session.scalars(sa.select(Organisation).where(Organisation.sector == "international_organisation"))
    } == {"IOM", "UNHCR", "UNODC", "ILO"}
    from webinar_mgr.auth.models import User

    cochair = db.session.scalar(sa.select(User).where(User.email == "cochair@example.org"))
    assert cochair.organisation.name == "Australia"
    assert directory.find_contact_by_email("participant@example.org").organisation.is_member_government

    seed(lines.append)
    db.session.commit()
    assert counts() == first
    assert lines[-1].startswith("directory: 0 organisations and 0 contacts created")


def test_stale_preview_conflict_imports_nothing(organiser, orgs):
    """Someone adds one of the emails between the preview and the import: a Conflict, nothing kept."""
    preview = directory.preview_contacts_csv(_csv(GOOD_ROWS).encode())
    assert preview.ok
    db.session.add(Contact(name="Fast Colleague", email="pan@example.org"))
    db.session.commit()
    with pytest.raises(Conflict):
        directory.import_contacts(preview, actor=organiser)
    assert [c.email for c in db.session.scalars(sa.select(Contact))] == ["pan@example.org"]
    assert _entries("contact.import") == []
