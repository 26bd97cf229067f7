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
    # Issue 11: an organisation the directory does not know no longer blocks the row; it will be
    # added for review (its sector guessed from the name). It used to be this row's error.
    assert by_line[4] == []
    new_org = preview.rows[2].new_organisation
    assert (new_org.name, new_org.sector, preview.rows[2].sector_guessed) == (
        "Ministry of Magic",
        "member_government",
        True,
    )
    assert by_line[5] == [] and by_line[6] == ["Duplicate: the same email as line 5."]
    assert by_line[7] == ["Already in the directory: here@example.org belongs to Already Here."]
    assert by_line[8] == ["Missing name."]
    assert "maybe" in by_line[9][0]
    assert "Asia/Atlantis" in by_line[10][0]
    assert not preview.ok and preview.error_count == 6 and preview.count == 3


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
        # bytes no UTF-8 and none of the region's legacy encodings can read (see test_csv_encodings)
        (b"name,email\n\x81\xff\x8d\xff,a@example.org\n", "Wrong encoding"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"name,phone\nA,1\n", "Missing column(s): email"),
        (b"name,email\n", "no contacts"),
    ],
    ids=["unreadable", "binary", "empty", "blank", "missing-column", "header-only"],
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


# People and their organisations (issue 11) -------------------------------------------------------


@pytest.fixture
def members(app):
    """The demo directory: the 45 member governments with their country codes, IOM, companies..."""
    from webinar_mgr.directory.seed import seed

    seed(lambda *a: None)
    db.session.commit()
    return {o.name: o for o in db.session.scalars(sa.select(Organisation))}


def _org_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))


def _resolve(**kw):
    options = {k: kw.pop(k) for k in ("added_via", "actor", "infer") if k in kw}
    options.setdefault("added_via", "registration")
    return directory.resolve_organisation(directory.OrganisationChoice(**kw), **options)


def test_resolve_finds_a_known_organisation_by_id_name_or_short_name(members):
    iom = members["International Organization for Migration"]
    before = _org_count()
    assert _resolve(organisation_id=iom.id) is iom
    assert _resolve(name="  international   ORGANIZATION for migration ") is iom
    assert _resolve(name="iom") is iom
    assert _resolve(name="Thailand", sector="civil_society") is members["Thailand"]  # the directory wins
    assert _resolve() is None and _resolve(name="   ") is None
    # Only a member government given: the person is counted under it.
    assert _resolve(member_government_id=members["Fiji"].id) is members["Fiji"]
    assert _org_count() == before and _entries("organisation.add") == []


def test_resolve_creates_a_new_organisation_for_review(members, organiser):
    org = _resolve(name="Khmer  Women Network", sector="civil_society", country_code="kh", actor=organiser)
    db.session.commit()
    assert (org.name, org.sector, org.country_code, org.member_government_id) == (
        "Khmer Women Network",
        "civil_society",
        "KH",
        None,
    )
    assert org.needs_review and org.added_via == "registration" and org.reviewed_at is None
    assert directory.member_government_of(org) is None
    entry = _entries("organisation.add")[-1]
    assert entry.actor_email == organiser.email and entry.changes["added_via"] == [None, "registration"]
    # The same name again (any case, any spacing) is that organisation, not a second one.
    assert _resolve(name="KHMER WOMEN NETWORK", added_via="walk_in") is org


def test_resolve_new_agency_counts_under_its_member_government(members):
    thailand = members["Thailand"]
    police = _resolve(name="Royal Thai Police", sector="member_government", member_government_id=thailand.id)
    assert police.member_government_id == thailand.id and police.country_code == "TH"
    assert not police.is_member_government and directory.member_government_of(police) is thailand
    # From the country, when no member government is named; from the name, as a guess with infer.
    labour = _resolve(name="Ministry of Labour", sector="member_government", country_code="Viet Nam")
    assert directory.member_government_of(labour) is members["Viet Nam"]
    guessed = _resolve(name="Department of Immigration, Malaysia", infer=True, added_via="walk_in")
    assert guessed.sector == "member_government" and directory.member_government_of(guessed) is members["Malaysia"]
    unknown = _resolve(name="Ministry of Finance", infer=True)
    assert unknown.sector == "member_government" and directory.member_government_of(unknown) is None
    # A member government given with no sector: it is a government agency.
    assert _resolve(name="Fiji Police Force", member_government_id=members["Fiji"].id).sector == "member_government"


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"name": "x" * 2000, "sector": "civil_society"}, "organisation_name"),
        ({"name": "New NGO", "sector": "pirates"}, "sector"),
        ({"name": "New NGO", "sector": "civil_society", "country_code": "Atlantis"}, "country_code"),
        ({"name": "New NGO", "sector": "civil_society", "country_code": "XX"}, "country_code"),
        ({"name": "Acme Ltd", "sector": "private_sector", "member_government_id": "thailand"}, "member_government_id"),
        ({"name": "Acme Ltd", "sector": "private_sector", "member_government_id": "iom"}, "member_government_id"),
        ({"name": "New NGO"}, "sector"),  # a new name needs its sector unless it may be guessed
        ({"organisation_id": 999999}, "organisation_id"),
        ({"sector": "civil_society"}, "organisation_name"),
    ],
    ids=[
        "name-2000",
        "sector",
        "country",
        "country-code",
        "member-for-company",
        "member-not-member",
        "no-sector",
        "unknown-id",
        "no-name",
    ],
)
def test_resolve_refuses_what_cannot_be_true(members, kw, field):
    names = {"thailand": members["Thailand"].id, "iom": members["International Organization for Migration"].id}
    if "member_government_id" in kw:
        kw = {**kw, "member_government_id": names[kw["member_government_id"]]}
    before = _org_count()
    with pytest.raises(ValidationFailed) as exc:
        _resolve(**kw)
    assert field in exc.value.field_errors and exc.value.message
    db.session.rollback()
    assert _org_count() == before and _entries("organisation.add") == []


def test_resolve_messages_say_what_is_wrong(members):
    with pytest.raises(ValidationFailed) as exc:
        _resolve(name="x" * 2000, sector="civil_society")
    assert exc.value.field_errors["organisation_name"] == ["The organisation's name has 2000 characters; at most 200."]
    with pytest.raises(ValidationFailed) as exc:
        _resolve(name="Acme Ltd", sector="private_sector", member_government_id=members["Thailand"].id)
    assert exc.value.field_errors["member_government_id"] == [
        "Only a government agency belongs to a member government; a private sector organisation does not."
    ]
    with pytest.raises(ValueError):
        _resolve(name="New NGO", sector="civil_society", added_via="carrier pigeon")


def test_the_database_refuses_a_member_government_for_a_company(members):
    from sqlalchemy.exc import IntegrityError

    db.session.add(Organisation(name="Acme Ltd", sector="private_sector", member_government_id=members["Fiji"].id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(Organisation(name="Acme Ltd", sector="private_sector", added_via="telepathy"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    "name,sector",
    [
        ("Ministry of Foreign Affairs", "member_government"),
        ("Department of Social Welfare", "member_government"),
        ("Royal Thai Police", "member_government"),
        ("Government of Nauru", "member_government"),
        ("Mekong Data Co., Ltd", "private_sector"),
        ("Acme Inc.", "private_sector"),
        ("Kasikorn Bank", "private_sector"),
        ("Lotus Group", "private_sector"),
        ("Pacific Telecom Corporation", "private_sector"),
        ("Example Holdings PLC", "private_sector"),
        ("UNICEF", "international_organisation"),
        ("UN Women Asia Pacific", "international_organisation"),
        ("IOM Bangkok", "international_organisation"),
        ("UNODC Regional Office", "international_organisation"),
        ("International Organization for Migration", "international_organisation"),
        ("Organization for Security and Co-operation in Europe", "international_organisation"),
        ("Khmer Women Network", "civil_society"),
        ("Freedom Path Foundation", "civil_society"),
        ("Université de Nouméa", "civil_society"),
        ("UNITED SHELTER FOUNDATION", "civil_society"),  # capitals: not a UN acronym
        ("WHO CARES FOUNDATION", "civil_society"),
        ("Non-Government Organisation Forum", "civil_society"),
        ("UNIQLO Co., Ltd", "private_sector"),
    ],
)
def test_infer_sector_guesses_from_the_name(name, sector):
    assert directory.infer_sector(name) == sector


def test_member_government_of(members):
    thailand = members["Thailand"]
    assert directory.member_government_of(thailand) is thailand
    assert directory.member_government_of(members["Example Mekong Bank"]) is None
    assert directory.member_government_of(None) is None
    agency = Organisation(name="Thai Customs", sector="member_government", member_government_id=thailand.id)
    db.session.add(agency)
    db.session.flush()
    assert directory.member_government_of(agency) is thailand
    assert agency.counted_member_government_id == thailand.id
    counted = dict(
        db.session.execute(
            sa.select(Organisation.name, Organisation.counted_member_government_id).where(
                Organisation.name.in_(["Thai Customs", "Thailand", "Example Mekong Bank"])
            )
        ).all()
    )
    assert counted == {"Thai Customs": thailand.id, "Thailand": thailand.id, "Example Mekong Bank": None}


def test_countries(members):
    choices = directory.country_choices()
    codes = [code for code, _name in choices]
    assert ("TH", "Thailand") in choices and ("VN", "Vietnam") in choices
    assert len(codes) == len(set(codes)) > 240
    assert not {"EU", "UN", "ZZ", "001", "150"} & set(codes)
    names = [name for _code, name in choices]
    assert names.index("Afghanistan") < names.index("Thailand") < names.index("Zimbabwe")
    assert codes.index("AF") < codes.index("ZW")
    for text, member in [
        ("Thailand", "Thailand"),
        ("TH", "Thailand"),
        ("th", "Thailand"),
        ("Viet Nam", "Viet Nam"),
        ("Vietnam", "Viet Nam"),
        ("Korea, Republic of", "Republic of Korea"),
        ("Republic of Korea", "Republic of Korea"),
        ("Lao People's Democratic Republic", "Lao PDR"),
        ("Türkiye", "Türkiye"),
        ("Turkey", "Türkiye"),
        ("Iran (Islamic Republic of)", "Iran"),
    ]:
        assert directory.member_government_for_country(text) is members[member], text
    assert all(m.country_code for m in members.values() if m.is_member_government)
    assert directory.member_government_for_country("France") is None  # a country, not a member
    assert directory.member_government_for_country("Atlantis") is None


def test_get_or_create_contact_takes_the_resolved_organisation(members, organiser):
    network = _resolve(name="Khmer Women Network", sector="civil_society", added_via="invitation")
    contact = directory.get_or_create_contact("Srey.Pov@Example-CSO.org", "ស្រី ពៅ", organisation=network)
    db.session.commit()
    assert contact.email == "srey.pov@example-cso.org" and contact.organisation_id == network.id
    # An existing contact without an organisation gets it; one with an organisation keeps its own.
    bare = directory.get_or_create_contact("bare@example.org", "Bare")
    assert bare.organisation_id is None
    assert (
        directory.get_or_create_contact("bare@example.org", "Bare", organisation=network).organisation_id == network.id
    )
    fiji = members["Fiji"]
    assert directory.get_or_create_contact("bare@example.org", "Bare", organisation=fiji).organisation_id == network.id
    # The older keyword still works.
    assert directory.get_or_create_contact("old@example.org", "Old", organisation_id=fiji.id).organisation_id == fiji.id


def test_contacts_of_a_member_government_include_its_agencies(members, organiser):
    thailand = members["Thailand"]
    police = _resolve(name="Royal Thai Police", sector="member_government", member_government_id=thailand.id)
    _contact(organiser, name="At The Ministry", email="m@example.go.th", organisation_id=thailand.id)
    _contact(organiser, name="At The Police", email="p@example.go.th", organisation_id=police.id)
    _contact(organiser, name="Elsewhere", email="e@example.org", organisation_id=members["Fiji"].id)
    found = {
        c.name for c in directory.search_contacts(directory.ContactFilters(member_government_id=thailand.id)).items
    }
    assert {"At The Ministry", "At The Police"} <= found and "Elsewhere" not in found
    assert all(
        directory.member_government_of(directory.find_contact_by_email(c.email).organisation) is thailand
        for c in directory.search_contacts(directory.ContactFilters(member_government_id=thailand.id)).items
    )


def test_import_adds_unknown_organisations_for_review(members, organiser):
    header = ("name", "email", "organisation", "sector")
    data = _csv(
        [
            ["A One", "a1@example.org", "Khmer Women Network", ""],
            ["A Two", "a2@example.org", "khmer women  network", ""],
            ["B", "b@example.org", "Mekong Data Ltd", ""],
            ["C", "c@example.org", "Seoul Shelter Alliance", "International organisation"],
            ["D", "d@example.org", "Thailand", "private_sector"],
        ],
        header=header,
    ).encode()
    upload, preview = directory.stage_contacts_upload("c.csv", data, actor=organiser)
    assert preview.ok, [r.errors for r in preview.rows]
    notes = [
        (r.new_organisation.name, r.new_organisation.sector, r.sector_guessed) if r.new_organisation else None
        for r in preview.rows
    ]
    assert notes == [
        ("Khmer Women Network", "civil_society", True),
        ("khmer women network", "civil_society", True),
        ("Mekong Data Ltd", "private_sector", True),
        ("Seoul Shelter Alliance", "international_organisation", False),
        None,
    ]
    assert _org_count() == len(members)  # the preview saves nothing
    contacts = directory.confirm_contacts_upload(upload.id, actor=organiser)
    by_email = {c.email: c for c in contacts}
    network = by_email["a1@example.org"].organisation
    assert by_email["a2@example.org"].organisation_id == network.id  # created once
    assert (network.name, network.added_via, network.needs_review) == ("Khmer Women Network", "import", True)
    assert by_email["c@example.org"].organisation.sector == "international_organisation"
    assert by_email["d@example.org"].organisation.name == "Thailand"
    assert _org_count() == len(members) + 3
    assert len(_entries("organisation.add")) == 3


def test_import_refuses_an_impossible_organisation_and_saves_nothing(members, organiser):
    data = _csv(
        [
            ["A", "a@example.org", "New NGO", ""],
            ["B", "b@example.org", "x" * 2000, ""],
            ["C", "c@example.org", "Other NGO", "pirates"],
            ["D", "d@example.org", "", "civil_society"],
        ],
        header=("name", "email", "organisation", "sector"),
    ).encode()
    contacts_before = db.session.scalar(sa.select(sa.func.count()).select_from(Contact))
    upload, preview = directory.stage_contacts_upload("c.csv", data, actor=organiser)
    assert [r.errors for r in preview.rows] == [
        [],
        ["The organisation's name has 2000 characters; at most 200."],
        [
            "Unknown sector: pirates (use one of: member_government, observer, private_sector, civil_society, "
            "international_organisation, support_office)."
        ],
        ["A sector is given but no organisation."],
    ]
    with pytest.raises(ValidationFailed):
        directory.confirm_contacts_upload(upload.id, actor=organiser)
    assert _org_count() == len(members) and _entries("organisation.add") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == contacts_before


# Review, merge, and the check --------------------------------------------------------------------


def test_review_fixes_and_marks_reviewed(members, organiser):
    from webinar_mgr.directory import review

    org = _resolve(name="Labour Office", infer=True, added_via="walk_in")
    db.session.commit()
    assert org.sector == "civil_society" and review.review_count() == 1
    # An agency must name its member government before it leaves the list.
    with pytest.raises(ValidationFailed) as exc:
        review.review_organisation(org.id, review.ReviewData(sector="member_government"), actor=organiser)
    assert "member_government_id" in exc.value.field_errors
    db.session.refresh(org)
    assert org.sector == "civil_society" and org.needs_review
    for bad, field in [
        (review.ReviewData(sector="pirates"), "sector"),
        (review.ReviewData(sector="civil_society", country_code="Atlantis"), "country_code"),
        (review.ReviewData(sector="private_sector", member_government_id=members["Fiji"].id), "member_government_id"),
        (review.ReviewData(sector="member_government", member_government_id=org.id), "member_government_id"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            review.review_organisation(org.id, bad, actor=organiser)
        assert field in exc.value.field_errors
    saved = review.review_organisation(
        org.id,
        review.ReviewData(sector="member_government", country_code="KH", member_government_id=members["Cambodia"].id),
        actor=organiser,
    )
    assert not saved.needs_review and saved.reviewed_at is not None and review.review_count() == 0
    assert directory.member_government_of(saved) is members["Cambodia"]
    entry = _entries("organisation.review")[-1]
    assert entry.changes["member_government"] == [None, "Cambodia"] and entry.changes["needs_review"] == [True, False]


def test_merge_moves_every_reference_and_is_audited(members, organiser, make_user):
    from tests.factories import make_event_row
    from webinar_mgr.auth.models import User
    from webinar_mgr.directory import review
    from webinar_mgr.events.models import event_convenors

    iom = members["International Organization for Migration"]
    typo = _resolve(name="Intl Org for Migration", sector="international_organisation", added_via="registration")
    a = _contact(organiser, name="A", email="a@example.org", organisation_id=typo.id)
    b = _contact(organiser, name="B", email="b@example.org", organisation_id=typo.id)
    user = make_user("participant", email="c@example.org", organisation_id=typo.id)
    event = make_event_row()
    other = make_event_row()
    db.session.execute(
        sa.insert(event_convenors),
        [
            {"event_id": event.id, "organisation_id": typo.id},
            {"event_id": event.id, "organisation_id": iom.id},  # both: one row is left
            {"event_id": other.id, "organisation_id": typo.id},
        ],
    )
    db.session.commit()
    typo_id = typo.id
    with pytest.raises(ValidationFailed):
        review.merge_organisation(typo_id, typo_id, actor=organiser)
    with pytest.raises(ValidationFailed):
        review.merge_organisation(typo_id, "No Such Organisation", actor=organiser)
    into = review.merge_organisation(typo_id, "iom", actor=organiser)
    assert into.id == iom.id and db.session.get(Organisation, typo_id) is None
    assert {db.session.get(Contact, c.id).organisation_id for c in (a, b)} == {iom.id}
    assert db.session.get(User, user.id).organisation_id == iom.id
    convenors = sorted(db.session.execute(sa.select(event_convenors.c.event_id, event_convenors.c.organisation_id)))
    assert convenors == sorted([(event.id, iom.id), (other.id, iom.id)])
    entry = _entries("organisation.merge")[-1]
    assert entry.object_id == str(iom.id) and entry.changes["merged"] == ["Intl Org for Migration", None]
    assert entry.changes["moved"][1]["contacts.organisation_id"] == 2
    assert entry.changes["moved"][1]["users.organisation_id"] == 1


def test_merge_of_a_member_government_with_agencies_goes_to_a_member_government(members, organiser):
    from webinar_mgr.directory import review

    fiji = members["Fiji"]
    police = _resolve(name="Fiji Police Force", sector="member_government", member_government_id=fiji.id)
    db.session.commit()
    with pytest.raises(Conflict):
        review.merge_organisation(fiji.id, police.id, actor=organiser)  # it belongs to Fiji
    with pytest.raises(Conflict):
        review.merge_organisation(fiji.id, "Example Mekong Bank", actor=organiser)
    assert db.session.get(Organisation, fiji.id) is not None


def test_gaps_and_the_check(members, organiser):
    from webinar_mgr.directory import review
    from webinar_mgr.directory.signals import Gap, person_gaps

    report = review.check()  # the demo directory alone: every contact has an organisation
    assert report.nothing_to_fix and report.gaps == [] and report.to_review == []
    lost = _contact(organiser, name="Lost Person", email="lost@example.org")
    agency = _resolve(name="Ministry of Magic", infer=True)
    db.session.commit()
    report = review.check()
    assert not report.nothing_to_fix and [o.name for o in report.to_review] == ["Ministry of Magic"]
    assert [(g.kind, g.id, g.problem) for g in report.gaps if g.kind in ("contact", "organisation")] == [
        ("contact", lost.id, "no organisation"),
        ("organisation", agency.id, "government agency without its member government"),
    ]
    assert report.gaps[0].url == f"http://localhost/directory/contacts/{lost.id}/edit"

    def registrations_gaps(_sender, **_kw):
        return [Gap("registration", 7, "Someone <s@example.org>", "no member government")]

    person_gaps.connect(registrations_gaps)
    try:
        assert Gap("registration", 7, "Someone <s@example.org>", "no member government") in review.check().gaps
    finally:
        person_gaps.disconnect(registrations_gaps)


def test_directory_check_command(members, organiser, app):
    import json

    runner = app.test_cli_runner()
    result = runner.invoke(args=["directory", "check"])
    assert result.exit_code == 0 and result.output.strip() == "Nothing to fix."
    lost = _contact(organiser, name="Lost Person", email="lost@example.org")
    org = _resolve(name="Khmer Women Network", infer=True, added_via="invitation")
    db.session.commit()
    result = runner.invoke(args=["directory", "check"])
    assert result.exit_code == 1
    assert f"organisation {org.id}: Khmer Women Network (civil_society; added by invitation)" in result.output
    assert f"contact {lost.id}: Lost Person <lost@example.org>: no organisation" in result.output
    result = runner.invoke(args=["directory", "check", "--json"])
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["gaps"][0]["id"] == lost.id and data["to_review"][0]["name"] == org.name


def test_demo_data_has_nothing_to_fix(migrated, app, smtp_server):
    """After `flask seed-demo` on a fresh database, `flask directory check` finds nothing to fix."""
    from webinar_mgr import create_app

    dev = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=migrated,
        PASSWORD_HASH_FAST=True,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server["port"],
        BASE_URL="http://localhost",
    )
    runner = dev.test_cli_runner()
    ctx = dev.app_context()  # the CLI runs in the current app context
    ctx.push()
    try:
        seeded = runner.invoke(args=["seed-demo", "--quiet"])
        assert seeded.exit_code == 0, seeded.output
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) > 50
        result = runner.invoke(args=["directory", "check"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "Nothing to fix."
    finally:
        db.session.remove()
        ctx.pop()


def test_new_organisations_of_a_failed_import_are_not_kept(organiser, orgs):
    """All or nothing, new organisations included: the file's contacts clash at the last moment."""
    data = _csv([["Pan Phyu", "pan@example.org", "Khmer Women Network", "", "", "", "", ""]]).encode()
    preview = directory.preview_contacts_csv(data)
    assert preview.ok and preview.rows[0].new_organisation is not None
    db.session.add(Contact(name="Fast Colleague", email="pan@example.org"))
    db.session.commit()
    with pytest.raises(Conflict):
        directory.import_contacts(preview, actor=organiser)
    db.session.expire_all()
    assert directory.find_organisation("Khmer Women Network") is None
    assert _entries("organisation.add") == []


def test_a_new_name_saved_by_someone_else_at_the_same_moment(members, monkeypatch):
    from webinar_mgr.directory import organisations
    from webinar_mgr.persistence import unit_of_work

    db.session.add(Organisation(name="Khmer Women Network", sector="civil_society", added_via="registration"))
    db.session.commit()
    real, calls = organisations.find_organisation, []

    def missed_the_first_time(name):  # the other request's insert landed after this one looked
        calls.append(name)
        return None if len(calls) == 1 else real(name)

    monkeypatch.setattr(organisations, "find_organisation", missed_the_first_time)
    choice = directory.OrganisationChoice(name="Khmer Women Network", sector="civil_society")
    if db.engine.dialect.name == "postgresql":  # a savepoint: the loser takes the winner's row
        with unit_of_work():
            org = directory.resolve_organisation(choice, added_via="invitation")
        assert org.name == "Khmer Women Network" and org.added_via == "registration"
    else:  # SQLite: a clear Conflict, the caller's unit rolls back
        with pytest.raises(Conflict) as exc, unit_of_work():
            directory.resolve_organisation(choice, added_via="invitation")
        assert "organisation_name" in exc.value.field_errors
    names = db.session.scalars(sa.select(Organisation.name).where(Organisation.name == "Khmer Women Network"))
    assert list(names) == ["Khmer Women Network"]
