"""Directory pages over HTTP: policies, lists, forms, the CSV import flow, CSRF, no 500s."""

from __future__ import annotations

import codecs
import io

import pytest
import sqlalchemy as sa

from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.extensions import db


@pytest.fixture
def thailand(app):
    org = Organisation(name="Thailand", sector="member_government", country_code="TH", working_group_member=True)
    db.session.add(org)
    db.session.commit()
    return org.id


@pytest.fixture
def organiser(make_user, login):
    """Unlike conftest's organiser: another address, and signed in."""
    user = make_user("organiser", email="organiser@test.example")
    login(user)
    return user


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _upload(client, data: bytes, name="contacts.csv"):
    return client.post("/directory/import", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_contacts_page_lists_searches_and_filters(client, organiser, thailand):
    db.session.add_all(
        [
            Contact(
                name="Somchai Jaidee",
                email="somchai@example.go.th",
                organisation_id=thailand,
                focal_point=True,
                position="Senior Officer",
            ),
            Contact(name="Anna Guest", email="anna@example.org"),
        ]
    )
    db.session.commit()
    resp = client.get("/directory/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<h1>Directory</h1>" in html and "<table" in html
    assert "Somchai Jaidee" in html and "Thailand" in html and "Member government" in html
    assert html.index("Anna Guest") < html.index("Somchai Jaidee")
    html = client.get("/directory/?q=senior").get_data(as_text=True)
    assert "Somchai Jaidee" in html and "Anna Guest" not in html
    html = client.get("/directory/?focal=1&sector=member_government").get_data(as_text=True)
    assert "Somchai Jaidee" in html and "Anna Guest" not in html
    html = client.get(f"/directory/?member={thailand}").get_data(as_text=True)
    assert "Somchai Jaidee" in html and "Anna Guest" not in html


def test_cochair_browses_but_cannot_write(client, make_user, login, thailand):
    login(make_user("cochair", email="cc@test.example"))
    assert client.get("/directory/").status_code == 200
    assert client.get("/directory/organisations").status_code == 200
    assert client.get(f"/directory/organisations/{thailand}").status_code == 200
    html = client.get("/directory/").get_data(as_text=True)
    assert "New contact" not in html
    assert client.get("/directory/contacts/new").status_code == 403
    assert client.post("/directory/contacts/new", data={"name": "X", "email": "x@example.org"}).status_code == 403
    assert client.get("/directory/import").status_code == 403
    assert _count(Contact) == 0


def test_participant_and_anonymous_are_kept_out(client, make_user, login, app):
    assert client.get("/directory/").status_code == 302
    login(make_user("participant", email="p@test.example"))
    assert client.get("/directory/").status_code == 403


def test_create_and_edit_contact(client, organiser, thailand):
    resp = client.post(
        "/directory/contacts/new",
        data={
            "name": "Nguyễn Thị Lan",
            "email": "Lan@Example.gov.vn",
            "organisation_id": str(thailand),
            "position": "Deputy Director",
            "focal_point": "y",
            "timezone": "Asia/Ho_Chi_Minh",
            "tags": "speaker, technology",
        },
    )
    assert resp.status_code == 302
    contact = db.session.scalar(sa.select(Contact))
    assert (
        contact.email == "lan@example.gov.vn" and contact.focal_point and contact.tag_names == ["speaker", "technology"]
    )
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Nguyễn Thị Lan" in page and "contact.create" in page
    resp = client.post(
        f"/directory/contacts/{contact.id}/edit",
        data={
            "name": "Nguyễn Thị Lan",
            "email": "lan@example.gov.vn",
            "organisation_id": "0",
            "position": "Director",
            "timezone": "",
            "tags": "",
        },
    )
    assert resp.status_code == 302
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "contact.update"))
    assert entry.changes["position"] == ["Deputy Director", "Director"]
    assert entry.changes["organisation"] == ["Thailand", None]
    assert entry.changes["focal_point"] == [True, False]


def test_duplicate_email_rerenders_with_field_error(client, organiser):
    db.session.add(Contact(name="First", email="first@example.org"))
    db.session.commit()
    resp = client.post(
        "/directory/contacts/new",
        data={"name": "Second", "email": "FIRST@example.org", "organisation_id": "0", "timezone": ""},
    )
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "already has the email first@example.org" in html and 'aria-invalid="true"' in html
    assert _count(Contact) == 1


def test_organisation_pages(client, organiser, thailand):
    resp = client.post(
        "/directory/organisations/new",
        data={
            "name": "Example NGO",
            "sector": "civil_society",
            "short_name": "ENGO",
            "website": "https://ngo.example.org",
        },
    )
    assert resp.status_code == 302
    assert (
        client.post("/directory/organisations/new", data={"name": "example ngo", "sector": "civil_society"}).status_code
        == 409
    )
    assert client.post("/directory/organisations/new", data={"name": "Other", "sector": "pirates"}).status_code == 422
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Example NGO"))
    assert (
        client.post(
            f"/directory/organisations/{org.id}/edit",
            data={"name": "Example NGO", "sector": "civil_society", "working_group_member": "y"},
        ).status_code
        == 302
    )
    db.session.add(Contact(name="Staff", email="staff@ngo.example.org", organisation_id=org.id, focal_point=True))
    db.session.commit()
    html = client.get("/directory/organisations?sector=civil_society").get_data(as_text=True)
    assert "Example NGO" in html and "Thailand" not in html
    html = client.get(f"/directory/organisations/{org.id}").get_data(as_text=True)
    assert "staff@ngo.example.org" in html
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"organisation.create", "organisation.update"} <= actions


def test_organisation_list_queries_do_not_grow_with_rows(client, organiser, app):
    for i in range(30):
        org = Organisation(name=f"Org {i:02d}", sector="civil_society")
        db.session.add(org)
        db.session.flush()
        db.session.add(Contact(name=f"P{i}", email=f"p{i}@example.org", organisation_id=org.id))
    db.session.commit()
    statements = []

    def count(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        resp = client.get("/directory/organisations")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert resp.status_code == 200 and "Org 29" in resp.get_data(as_text=True)
    assert len(statements) <= 8, len(statements)


# Import flow -------------------------------------------------------------------------------------


def test_import_happy_path_over_http(client, organiser, thailand):
    data = codecs.BOM_UTF8 + (
        b"Full name,E-mail,Organization,Focal point,Tags\r\n"
        b"Somchai Jaidee,somchai@example.go.th,thailand,yes,focal-point;speaker\r\n"
        b"Anna Guest,anna@example.org,,,\r\n"
    )
    resp = _upload(client, data)
    assert resp.status_code == 302
    preview = client.get(resp.headers["Location"])
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and html.count("will be added") >= 2 and "Import 2 contacts" in html
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    resp = client.post("/directory/import/confirm", data={"upload_id": upload_id})
    assert resp.status_code == 302
    assert _count(Contact) == 2 and _count(PendingUpload) == 0
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "contact.import")).changes["count"] == [
        0,
        2,
    ]


def test_preview_names_each_problem_and_confirm_imports_nothing(client, organiser, thailand):
    db.session.add(Contact(name="Here Already", email="here@example.org"))
    db.session.commit()
    data = (
        b"name;email;organisation\n"
        b"Good;good@example.org;Thailand\n"
        b"Bad;not-an-email;\n"
        b"Lost;lost@example.org;Ministry of Magic\n"
        b"Twin;good@example.org;\n"
        b"Again;HERE@example.org;\n"
    )
    resp = _upload(client, data)
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Bad email" in html and "Ministry of Magic" in html and "same email as line 2" in html
    assert "Already in the directory" in html and "import/confirm" not in html
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    resp = client.post("/directory/import/confirm", data={"upload_id": upload_id})
    assert resp.status_code == 422
    assert "Nothing was imported" in resp.get_data(as_text=True)
    assert _count(Contact) == 1


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"name,email\n\x81\xff\x8d\xff,a@example.org\n", "Wrong encoding"),
        (bytes(range(256)) * 4, "binary"),
        (b"", "empty"),
        (b"name,organisation\nA,B\n", "Missing column(s): email"),
    ],
    ids=["unreadable", "binary", "empty", "missing-column"],
)
def test_upload_file_problems_are_shown_not_stored(client, organiser, data, expected):
    resp = _upload(client, data)
    assert resp.status_code in (400, 422)
    assert expected in resp.get_data(as_text=True) or (not data and "Choose a CSV file" in resp.get_data(as_text=True))
    assert _count(PendingUpload) == 0


def test_upload_too_large(client, organiser, app):
    app.config["CSV_MAX_BYTES"] = 100
    resp = _upload(client, b"name,email\n" + b"A,a@example.org\n" * 20)
    assert resp.status_code == 422 and "too large" in resp.get_data(as_text=True)
    assert _count(PendingUpload) == 0


def test_another_user_cannot_see_or_confirm_my_upload(client, organiser, make_user, app, thailand):
    resp = _upload(client, b"name,email\nA,a@example.org\n")
    assert resp.status_code == 302
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    other = make_user("organiser", email="other@test.example")
    c2 = app.test_client()
    assert c2.post("/login", data={"email": other.email, "password": "correct-horse-battery"}).status_code == 302
    assert c2.get(f"/directory/import/{upload_id}").status_code == 403
    assert c2.post("/directory/import/confirm", data={"upload_id": upload_id}).status_code == 403
    assert _count(Contact) == 0 and _count(PendingUpload) == 1


def test_template_download(client, organiser):
    resp = client.get("/directory/import/template.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.data.decode("utf-8-sig").splitlines()
    assert text[0] == "name,email,organisation,position,focal_point,tags,phone,timezone,language" and len(text) == 2


def test_bad_input_never_500(client, organiser, thailand):
    cases = [
        ("get", "/directory/?page=abc&organisation=x&member=-3&sector=nope&tag=" + "t" * 300, None),
        ("get", "/directory/?page=99999", None),
        ("get", "/directory/organisations?page=-1&sector=%00", None),
        ("get", "/directory/import/not-a-real-upload-id-that-is-far-too-long-for-the-column", None),
        ("post", "/directory/import/confirm", {}),
        ("post", "/directory/import/confirm", {"upload_id": "nope"}),
        ("post", "/directory/import", {}),
        ("post", "/directory/contacts/new", {"name": "", "email": "", "organisation_id": "abc"}),
        (
            "post",
            "/directory/contacts/new",
            {"name": "X", "email": "x@example.org", "organisation_id": "999999", "timezone": "Mars/Base"},
        ),
        ("post", "/directory/contacts/new", {"name": "X" * 500, "email": "x@", "tags": "t" * 80}),
        ("post", "/directory/organisations/new", {"name": "", "sector": ""}),
        (
            "post",
            "/directory/organisations/new",
            {"name": "Y", "sector": "civil_society", "country_code": "123", "website": "javascript:alert(1)"},
        ),
        ("post", "/directory/contacts/424242/edit", {"name": "X"}),
        ("get", "/directory/organisations/424242", None),
        # NUL characters: PostgreSQL refuses them in text, so they must never reach a query.
        ("get", "/directory/?q=a%00b&tag=x%00", None),
        ("get", "/directory/organisations?q=%00", None),
        ("get", "/directory/import/ab%00cd", None),
        ("post", "/directory/import/confirm", {"upload_id": "ab\x00cd"}),
        (
            "post",
            "/directory/contacts/new",
            {
                "name": "Nul\x00Name",
                "email": "nul@example.org",
                "organisation_id": "0",
                "position": "a\x00b",
                "tags": "t\x00",
            },
        ),
        ("post", "/directory/organisations/new", {"name": "Nul\x00Org", "sector": "civil_society"}),
    ]
    for method, url, data in cases:
        resp = getattr(client, method)(url, data=data) if data is not None else getattr(client, method)(url)
        assert resp.status_code < 500, (url, resp.status_code)
        assert resp.status_code in (200, 302, 400, 403, 404, 409, 422), (url, resp.status_code)
    assert _count(Contact) == 0  # a NUL in a form is refused at the door (400), nothing is saved


def test_forms_are_csrf_protected(client, organiser, app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        html = client.get("/directory/contacts/new").get_data(as_text=True)
        assert 'name="csrf_token"' in html
        assert 'name="csrf_token"' in client.get("/directory/import").get_data(as_text=True)
        assert client.post("/directory/contacts/new", data={"name": "X", "email": "x@example.org"}).status_code == 400
        assert client.post("/directory/organisations/new", data={"name": "X", "sector": "observer"}).status_code == 400
        assert _upload(client, b"name,email\nA,a@example.org\n").status_code == 400
        assert client.post("/directory/import/confirm", data={"upload_id": "x"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _count(Contact) == 0 and _count(Organisation) == 0 and _count(PendingUpload) == 0


def test_service_api_for_invitations_is_importable():
    assert callable(directory.preview_contacts_csv) and callable(directory.import_contacts)
    import inspect

    assert "allow_existing" in inspect.signature(directory.preview_contacts_csv).parameters
    assert "allow_existing" in inspect.signature(directory.import_contacts).parameters


# New organisations to review (issue 11) ----------------------------------------------------------


@pytest.fixture
def added(app, thailand):
    """Two organisations people added (one with two contacts), a contact with no organisation."""
    network = directory.resolve_organisation(
        directory.OrganisationChoice(name="Khmer Women Network", sector="civil_society", country_code="KH"),
        added_via="invitation",
    )
    police = directory.resolve_organisation(
        directory.OrganisationChoice(name="Thai Police Bureau"), added_via="registration", infer=True
    )
    db.session.add_all(
        [
            Contact(name="Srey Pov", email="srey.pov@example-cso.org", organisation_id=network.id),
            Contact(name="Dara Chan", email="dara@example-cso.org", organisation_id=network.id),
            Contact(name="Lost Person", email="lost@example.org"),
        ]
    )
    db.session.commit()
    return {"network": network.id, "police": police.id}


def test_review_page_lists_added_organisations_and_gaps(client, organiser, added):
    html = client.get("/directory/").get_data(as_text=True)
    assert "New organisations to review" in html and '<span class="badge badge-warn">2' in html  # the nav's badge
    resp = client.get("/directory/review")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Khmer Women Network" in html and "Thai Police Bureau" in html
    assert "Added by invitation" in html and "Added by registration" in html and "2 contacts" in html
    assert f'id="org-{added["network"]}"' in html and f'name="r{added["network"]}-sector"' in html
    # The gaps, with the links that fix them.
    lost = directory.find_contact_by_email("lost@example.org")
    assert "Lost Person &lt;lost@example.org&gt;" in html and f"/directory/contacts/{lost.id}/edit" in html
    assert "government agency without its member government" in html


def test_review_page_is_for_organisers(client, make_user, login, added):
    login(make_user("cochair", email="cochair@test.example"))
    assert client.get("/directory/review").status_code == 403
    assert client.post(f"/directory/review/{added['network']}", data={}).status_code == 403
    html = client.get("/directory/").get_data(as_text=True)
    assert "New organisations to review" not in html


def test_review_save_and_mark_reviewed(client, organiser, added, thailand):
    police = added["police"]
    # An agency cannot leave the list without its member government: a clear message, nothing saved.
    resp = client.post(
        f"/directory/review/{police}",
        data={f"r{police}-sector": "member_government", f"r{police}-country_code": "", f"r{police}-review": "y"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Choose the member government this agency belongs to" in html
    assert db.session.get(Organisation, police).needs_review
    resp = client.post(
        f"/directory/review/{police}",
        data={f"r{police}-sector": "private_sector", f"r{police}-member_government_id": str(thailand)},
    )
    assert resp.status_code == 422 and "Only a government agency" in resp.get_data(as_text=True)
    resp = client.post(
        f"/directory/review/{police}",
        data={
            f"r{police}-sector": "member_government",
            f"r{police}-country_code": "TH",
            f"r{police}-member_government_id": str(thailand),
            f"r{police}-review": "y",
        },
    )
    assert resp.status_code == 302
    db.session.expire_all()
    org = db.session.get(Organisation, police)
    assert not org.needs_review and org.member_government_id == thailand and org.country_code == "TH"
    html = client.get(resp.location).get_data(as_text=True)
    assert "Thai Police Bureau is reviewed." in html and "Thai Police Bureau</a></h2>" not in html
    assert "government agency without its member government" not in html
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "organisation.review"))
    assert entry.changes["member_government"] == [None, "Thailand"]


def test_review_merge_moves_contacts(client, organiser, added, thailand):
    network = added["network"]
    resp = client.post(f"/directory/review/{network}/merge", data={f"m{network}-target": "Nowhere At All"})
    assert resp.status_code == 422 and "Choose an organisation of the directory" in resp.get_data(as_text=True)
    resp = client.post(f"/directory/review/{network}/merge", data={f"m{network}-target": "thailand"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organisation, network) is None
    assert directory.find_contact_by_email("srey.pov@example-cso.org").organisation_id == thailand
    assert "Khmer Women Network merged into Thailand." in client.get(resp.location).get_data(as_text=True)
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "organisation.merge")) is not None


def test_review_bad_input_never_500(client, organiser, added):
    network = added["network"]
    for url, data in [
        ("/directory/review/424242", {"r424242-sector": "civil_society"}),
        ("/directory/review/424242/merge", {"m424242-target": "Thailand"}),
        (f"/directory/review/{network}", {f"r{network}-sector": "pirates", f"r{network}-country_code": "ZZZ"}),
        (f"/directory/review/{network}", {f"r{network}-member_government_id": "abc"}),
        (f"/directory/review/{network}/merge", {f"m{network}-target": "x" * 5000}),
        (f"/directory/review/{network}/merge", {f"m{network}-target": str(network)}),
        ("/directory/review?page=abc", None),
    ]:
        resp = client.post(url, data=data) if data is not None else client.get(url)
        assert resp.status_code in (200, 400, 404, 409, 422), (url, resp.status_code)
    db.session.expire_all()
    org = db.session.get(Organisation, network)
    assert org.sector == "civil_society" and org.needs_review


def test_organisation_form_takes_a_member_government(client, organiser, thailand):
    resp = client.post(
        "/directory/organisations/new",
        data={
            "name": "Royal Thai Police",
            "sector": "member_government",
            "country_code": "TH",
            "member_government_id": str(thailand),
        },
    )
    assert resp.status_code == 302
    police = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Royal Thai Police"))
    assert police.member_government_id == thailand and police.added_via is None and not police.needs_review
    assert "Thailand" in client.get(f"/directory/organisations/{police.id}").get_data(as_text=True)
    resp = client.post(
        "/directory/organisations/new",
        data={"name": "Acme Ltd", "sector": "private_sector", "member_government_id": str(thailand)},
    )
    assert resp.status_code == 422 and "Only a government agency" in resp.get_data(as_text=True)
    resp = client.post(
        "/directory/organisations/new",
        data={"name": "Acme Ltd", "sector": "private_sector", "country_code": "Atlantis"},
    )
    assert resp.status_code == 422 and "Unknown country" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(Organisation).where(Organisation.name == "Acme Ltd")) is None


def test_import_preview_says_new_organisation_to_review(client, organiser, thailand):
    resp = _upload(client, b"name,email,organisation\nSrey Pov,srey@example.org,Khmer Women Network\n")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "new organisation: Khmer Women Network" in html and "civil society, to review" in html
    assert "import/confirm" in html
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    assert client.post("/directory/import/confirm", data={"upload_id": upload_id}).status_code == 302
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Khmer Women Network"))
    assert org.added_via == "import" and org.needs_review
