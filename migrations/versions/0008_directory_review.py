"""directory review (issue 11: organisations added by people, their member government)

Organisations get the member government a government agency belongs to, how an organisation that
a person gave came in (added_via: registration, invitation, import, walk_in; NULL when the
secretariat curated it), whether it waits for review, and when it was reviewed. The 45 member
governments keep their country codes (set by the demo seed; filled in here for any left empty).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:05:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ADDED_VIA = "'registration', 'invitation', 'import', 'walk_in'"

# The member governments by name, for rows that lack a country code (older databases).
MEMBER_CODES = {
    "Afghanistan": "AF",
    "Australia": "AU",
    "Bangladesh": "BD",
    "Bhutan": "BT",
    "Brunei Darussalam": "BN",
    "Cambodia": "KH",
    "China": "CN",
    "Democratic People's Republic of Korea": "KP",
    "Fiji": "FJ",
    "France (New Caledonia)": "NC",
    "Hong Kong SAR China": "HK",
    "India": "IN",
    "Indonesia": "ID",
    "Iran": "IR",
    "Iraq": "IQ",
    "Japan": "JP",
    "Jordan": "JO",
    "Kiribati": "KI",
    "Lao PDR": "LA",
    "Macau SAR China": "MO",
    "Malaysia": "MY",
    "Maldives": "MV",
    "Mongolia": "MN",
    "Myanmar": "MM",
    "Nauru": "NR",
    "Nepal": "NP",
    "New Zealand": "NZ",
    "Pakistan": "PK",
    "Palau": "PW",
    "Papua New Guinea": "PG",
    "Philippines": "PH",
    "Republic of Korea": "KR",
    "Samoa": "WS",
    "Singapore": "SG",
    "Solomon Islands": "SB",
    "Sri Lanka": "LK",
    "Syria": "SY",
    "Thailand": "TH",
    "Timor-Leste": "TL",
    "Tonga": "TO",
    "Türkiye": "TR",
    "United Arab Emirates": "AE",
    "United States of America": "US",
    "Vanuatu": "VU",
    "Viet Nam": "VN",
}


def upgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_government_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("added_via", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_organisations_member_government_id"), ["member_government_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organisations_member_government_id_organisations"),
            "organisations",
            ["member_government_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_organisations_added_via_known"), f"added_via IS NULL OR added_via IN ({ADDED_VIA})"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_organisations_member_government_only_for_agencies"),
            "member_government_id IS NULL OR (sector = 'member_government' AND member_government_id <> id)",
        )

    organisations = sa.table(
        "organisations", sa.column("name", sa.String), sa.column("sector", sa.String), sa.column("country_code")
    )
    for name, code in MEMBER_CODES.items():
        op.execute(
            organisations.update()
            .where(
                organisations.c.name == name,
                organisations.c.sector == "member_government",
                organisations.c.country_code.is_(None),
            )
            .values(country_code=code)
        )


def downgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_organisations_member_government_only_for_agencies"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_organisations_added_via_known"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_organisations_member_government_id_organisations"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_organisations_member_government_id"))
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("needs_review")
        batch_op.drop_column("added_via")
        batch_op.drop_column("member_government_id")
