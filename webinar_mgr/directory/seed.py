"""Demo directory: the public member list of the Bali Process (member governments), the
international organisations and the Regional Support Office, a few FICTIONAL companies and NGOs
(example.com / example.org domains) and about 60 contacts. Idempotent: organisations are found by
name and contacts by email; what exists is left alone. The demo accounts are linked to their
organisations by the auth seed, which runs after this one.

Which members belong to the Working Group is a demo assumption (see docs/directory.md).
"""

from __future__ import annotations

import sqlalchemy as sa

from webinar_mgr.extensions import db

from .models import SECTOR_CIVIL, SECTOR_IO, SECTOR_MEMBER, SECTOR_PRIVATE, SECTOR_SUPPORT, Contact, Organisation, Tag

# (name, short name, ISO code): the 45 member states and territories, as publicly listed.
MEMBERS = [
    ("Afghanistan", None, "AF"),
    ("Australia", None, "AU"),
    ("Bangladesh", None, "BD"),
    ("Bhutan", None, "BT"),
    ("Brunei Darussalam", "Brunei", "BN"),
    ("Cambodia", None, "KH"),
    ("China", None, "CN"),
    ("Democratic People's Republic of Korea", "DPRK", "KP"),
    ("Fiji", None, "FJ"),
    ("France (New Caledonia)", "New Caledonia", "NC"),
    ("Hong Kong SAR China", "Hong Kong", "HK"),
    ("India", None, "IN"),
    ("Indonesia", None, "ID"),
    ("Iran", None, "IR"),
    ("Iraq", None, "IQ"),
    ("Japan", None, "JP"),
    ("Jordan", None, "JO"),
    ("Kiribati", None, "KI"),
    ("Lao PDR", "Laos", "LA"),
    ("Macau SAR China", "Macau", "MO"),
    ("Malaysia", None, "MY"),
    ("Maldives", None, "MV"),
    ("Mongolia", None, "MN"),
    ("Myanmar", None, "MM"),
    ("Nauru", None, "NR"),
    ("Nepal", None, "NP"),
    ("New Zealand", None, "NZ"),
    ("Pakistan", None, "PK"),
    ("Palau", None, "PW"),
    ("Papua New Guinea", "PNG", "PG"),
    ("Philippines", None, "PH"),
    ("Republic of Korea", "Korea", "KR"),
    ("Samoa", None, "WS"),
    ("Singapore", None, "SG"),
    ("Solomon Islands", None, "SB"),
    ("Sri Lanka", None, "LK"),
    ("Syria", None, "SY"),
    ("Thailand", None, "TH"),
    ("Timor-Leste", None, "TL"),
    ("Tonga", None, "TO"),
    ("Türkiye", "Turkey", "TR"),
    ("United Arab Emirates", "UAE", "AE"),
    ("United States of America", "USA", "US"),
    ("Vanuatu", None, "VU"),
    ("Viet Nam", "Vietnam", "VN"),
]
# Demo assumption: the Working Group's own members (co-chairs Australia and Indonesia).
WORKING_GROUP = {
    "Australia",
    "Indonesia",
    "Bangladesh",
    "Cambodia",
    "China",
    "India",
    "Japan",
    "Lao PDR",
    "Malaysia",
    "Myanmar",
    "New Zealand",
    "Philippines",
    "Republic of Korea",
    "Sri Lanka",
    "Thailand",
    "Viet Nam",
}

# (name, short name, sector, website, notes)
OTHERS = [
    ("International Organization for Migration", "IOM", SECTOR_IO, "https://www.iom.int", None),
    ("United Nations High Commissioner for Refugees", "UNHCR", SECTOR_IO, "https://www.unhcr.org", None),
    ("United Nations Office on Drugs and Crime", "UNODC", SECTOR_IO, "https://www.unodc.org", None),
    ("International Labour Organization", "ILO", SECTOR_IO, "https://www.ilo.org", None),
    ("Regional Support Office", "RSO", SECTOR_SUPPORT, None, "Supports the Working Group's programme."),
    # Fictional companies and NGOs (demo data only).
    (
        "Example Social Platforms Ltd",
        "ESP",
        SECTOR_PRIVATE,
        "https://social.example.com",
        "Fictional social media company (demo).",
    ),
    (
        "HeartMatch Dating Example Pte Ltd",
        "HeartMatch",
        SECTOR_PRIVATE,
        "https://heartmatch.example.com",
        "Fictional dating platform with a trust & safety team (demo).",
    ),
    (
        "TalentBridge Recruitment Example Co.",
        "TalentBridge",
        SECTOR_PRIVATE,
        "https://talentbridge.example.com",
        "Fictional online recruitment platform (demo).",
    ),
    ("Example Mekong Bank", "EMB", SECTOR_PRIVATE, "https://bank.example.com", "Fictional bank (demo)."),
    ("Mekong Migrant Support Network", "MMSN", SECTOR_CIVIL, "https://mmsn.example.org", "Fictional NGO (demo)."),
    ("Freedom Path Foundation", "FPF", SECTOR_CIVIL, "https://freedompath.example.org", "Fictional NGO (demo)."),
    (
        "Pacific Safe Harbour Collective",
        "PSHC",
        SECTOR_CIVIL,
        "https://safeharbour.example.org",
        "Fictional NGO (demo).",
    ),
    (
        "Survivor Voices Asia (example)",
        "SVA",
        SECTOR_CIVIL,
        "https://survivorvoices.example.org",
        "Fictional survivor-led network (demo).",
    ),
]

FP = "focal-point"
# (name, email, organisation, position, focal point, tags, time zone)
CONTACTS = [
    (
        "Margaret Ellison",
        "margaret.ellison@example.gov.au",
        "Australia",
        "Ambassador for People Smuggling and Human Trafficking",
        True,
        [FP, "speaker", "co-chair"],
        "Australia/Canberra",
    ),
    (
        "Dewi Kartika",
        "dewi.kartika@example.go.id",
        "Indonesia",
        "Director, Transnational Crime",
        True,
        [FP, "speaker", "co-chair"],
        "Asia/Jakarta",
    ),
    (
        "Siti Nurhaliza",
        "siti.nurhaliza@example.go.id",
        "Indonesia",
        "Senior Prosecutor",
        False,
        ["speaker", "justice"],
        "Asia/Jakarta",
    ),
    (
        "Farhana Akter",
        "farhana.akter@example.gov.bd",
        "Bangladesh",
        "Deputy Secretary, Public Security Division",
        True,
        [FP],
        "Asia/Dhaka",
    ),
    (
        "Sok Vanna (សុខ វណ្ណា)",
        "sok.vanna@example.gov.kh",
        "Cambodia",
        "Deputy Director, Anti-Human Trafficking Department",
        True,
        [FP, "covid-recovery"],
        "Asia/Phnom_Penh",
    ),
    (
        "王芳 (Wang Fang)",
        "wang.fang@example.gov.cn",
        "China",
        "Division Director, Criminal Investigation",
        True,
        [FP],
        "Asia/Shanghai",
    ),
    (
        "Priya Raghunathan",
        "priya.raghunathan@example.gov.in",
        "India",
        "Joint Secretary, Anti-Trafficking",
        True,
        [FP, "technology"],
        "Asia/Kolkata",
    ),
    (
        "佐藤 美咲 (Sato Misaki)",
        "sato.misaki@example.go.jp",
        "Japan",
        "Deputy Director, International Affairs",
        True,
        [FP],
        "Asia/Tokyo",
    ),
    (
        "ສົມພອນ ແກ້ວມະນີ (Somphone Keomany)",
        "somphone.keomany@example.gov.la",
        "Lao PDR",
        "Head of Anti-Trafficking Division",
        True,
        [FP, "covid-recovery"],
        "Asia/Vientiane",
    ),
    (
        "Aziz Rahman",
        "aziz.rahman@example.gov.my",
        "Malaysia",
        "Assistant Commissioner, Anti-Trafficking Unit",
        True,
        [FP, "speaker"],
        "Asia/Kuala_Lumpur",
    ),
    (
        "Nurul Izzah binti Hamid",
        "nurul.hamid@example.gov.my",
        "Malaysia",
        "Principal Assistant Secretary",
        False,
        ["financial-investigations"],
        "Asia/Kuala_Lumpur",
    ),
    (
        "ကျော်ဇော (Kyaw Zaw)",
        "kyaw.zaw@example.gov.mm",
        "Myanmar",
        "Police Colonel, Anti-Trafficking in Persons Division",
        True,
        [FP],
        "Asia/Yangon",
    ),
    (
        "Aroha Ngata",
        "aroha.ngata@example.govt.nz",
        "New Zealand",
        "Policy Manager, Migrant Exploitation",
        True,
        [FP, "technology"],
        "Pacific/Auckland",
    ),
    (
        "Maria Santos",
        "maria.santos@example.gov.ph",
        "Philippines",
        "State Prosecutor",
        True,
        [FP, "speaker", "justice", "technology"],
        "Asia/Manila",
    ),
    (
        "Jose Dela Cruz",
        "jose.delacruz@example.gov.ph",
        "Philippines",
        "Executive Director, Inter-Agency Council",
        False,
        ["covid-recovery"],
        "Asia/Manila",
    ),
    (
        "김지현 (Kim Ji-hyun)",
        "kim.jihyun@example.go.kr",
        "Republic of Korea",
        "First Secretary",
        True,
        [FP],
        "Asia/Seoul",
    ),
    (
        "Nimali Perera",
        "nimali.perera@example.gov.lk",
        "Sri Lanka",
        "Director, National Anti-Human Trafficking Task Force",
        True,
        [FP],
        "Asia/Colombo",
    ),
    (
        "สมชาย ใจดี (Somchai Jaidee)",
        "somchai.jaidee@example.go.th",
        "Thailand",
        "Senior Officer, Anti-Trafficking Division",
        True,
        [FP, "speaker", "covid-recovery"],
        "Asia/Bangkok",
    ),
    (
        "Pimchanok Wongsawat",
        "pimchanok.w@example.go.th",
        "Thailand",
        "Labour Inspector",
        False,
        ["labour"],
        "Asia/Bangkok",
    ),
    (
        "Nguyễn Thị Lan",
        "nguyen.thi.lan@example.gov.vn",
        "Viet Nam",
        "Deputy Director, Anti-Trafficking Division",
        True,
        [FP, "speaker", "covid-recovery"],
        "Asia/Ho_Chi_Minh",
    ),
    (
        "Trần Văn Minh",
        "tran.van.minh@example.gov.vn",
        "Viet Nam",
        "Judge, People's Court",
        False,
        ["speaker", "justice"],
        "Asia/Ho_Chi_Minh",
    ),
    # Other Bali Process members (not in the Working Group; some invited for a topic).
    (
        "Mere Naivalu",
        "mere.naivalu@example.gov.fj",
        "Fiji",
        "Principal Immigration Officer",
        False,
        ["pacific"],
        "Pacific/Fiji",
    ),
    (
        "Ngiraibai Remengesau",
        "n.remengesau@example.gov.pw",
        "Palau",
        "Assistant Attorney General",
        False,
        ["pacific"],
        "Pacific/Palau",
    ),
    (
        "Kila Morea",
        "kila.morea@example.gov.pg",
        "Papua New Guinea",
        "Senior Legal Officer",
        False,
        ["pacific"],
        "Pacific/Port_Moresby",
    ),
    (
        "Tuilagi Faleolo",
        "tuilagi.faleolo@example.gov.ws",
        "Samoa",
        "Chief Executive Officer, Immigration",
        False,
        ["pacific"],
        "Pacific/Apia",
    ),
    (
        "Ana Soares",
        "ana.soares@example.gov.tl",
        "Timor-Leste",
        "Legal Adviser, Ministry of Justice",
        False,
        [],
        "Asia/Dili",
    ),
    (
        "Sione Fifita",
        "sione.fifita@example.gov.to",
        "Tonga",
        "Principal Crown Counsel",
        False,
        ["pacific"],
        "Pacific/Tongatapu",
    ),
    (
        "John Maneipuri",
        "john.maneipuri@example.gov.sb",
        "Solomon Islands",
        "Director of Immigration",
        False,
        ["pacific"],
        "Pacific/Guadalcanal",
    ),
    (
        "Omar Al-Khalidi",
        "omar.alkhalidi@example.gov.jo",
        "Jordan",
        "Head, Anti-Human Trafficking Unit",
        False,
        [],
        "Asia/Amman",
    ),
    (
        "Fatima Al Mansoori",
        "fatima.almansoori@example.gov.ae",
        "United Arab Emirates",
        "Director, Human Rights",
        False,
        [],
        "Asia/Dubai",
    ),
    ("Rahim Karimi", "rahim.karimi@example.gov.af", "Afghanistan", "Second Secretary", False, [], "Asia/Kabul"),
    (
        "Ayesha Siddiqui",
        "ayesha.siddiqui@example.gov.pk",
        "Pakistan",
        "Deputy Director, Federal Investigation Agency",
        False,
        [],
        "Asia/Karachi",
    ),
    (
        "Sabina Shrestha",
        "sabina.shrestha@example.gov.np",
        "Nepal",
        "Under Secretary, Women, Children and Senior Citizens",
        False,
        [],
        "Asia/Kathmandu",
    ),
    ("Batbayar Ganbold", "batbayar.ganbold@example.gov.mn", "Mongolia", "Police Major", False, [], "Asia/Ulaanbaatar"),
    (
        "Rachel Lim",
        "rachel.lim@example.gov.sg",
        "Singapore",
        "Deputy Director, Inter-Agency Taskforce",
        False,
        [],
        "Asia/Singapore",
    ),
    (
        "Daniel Brooks",
        "daniel.brooks@example.gov",
        "United States of America",
        "Regional Labor Attaché",
        False,
        [],
        "Asia/Bangkok",
    ),
    # International organisations and the Regional Support Office.
    (
        "Jonathan Lee",
        "jonathan.lee@example.org",
        "Regional Support Office",
        "Programme Manager",
        True,
        ["speaker", "secretariat"],
        "Asia/Bangkok",
    ),
    (
        "Kanya Boonmee",
        "kanya.boonmee@example.org",
        "Regional Support Office",
        "Programme Officer",
        False,
        ["secretariat"],
        "Asia/Bangkok",
    ),
    (
        "Elena Petrova",
        "elena.petrova@iom.example.org",
        "International Organization for Migration",
        "Regional Thematic Specialist, Counter-Trafficking",
        True,
        ["technology"],
        "Asia/Bangkok",
    ),
    (
        "Hiroshi Tanaka",
        "hiroshi.tanaka@unhcr.example.org",
        "United Nations High Commissioner for Refugees",
        "Senior Protection Officer",
        True,
        [],
        "Asia/Bangkok",
    ),
    (
        "Amina Yusuf",
        "amina.yusuf@unodc.example.org",
        "United Nations Office on Drugs and Crime",
        "Crime Prevention and Criminal Justice Officer",
        True,
        ["justice", "speaker"],
        "Asia/Bangkok",
    ),
    (
        "Rohan Mehta",
        "rohan.mehta@ilo.example.org",
        "International Labour Organization",
        "Labour Migration Specialist",
        True,
        ["labour"],
        "Asia/Bangkok",
    ),
    # Fictional private sector.
    (
        "李明 (Li Ming)",
        "li.ming@social.example.com",
        "Example Social Platforms Ltd",
        "Head of Trust & Safety, Asia-Pacific",
        False,
        ["technology", "speaker", "private-sector"],
        "Asia/Singapore",
    ),
    (
        "Grace Walker",
        "grace.walker@social.example.com",
        "Example Social Platforms Ltd",
        "Public Policy Manager",
        False,
        ["technology", "private-sector"],
        "Australia/Sydney",
    ),
    (
        "Arjun Iyer",
        "arjun.iyer@heartmatch.example.com",
        "HeartMatch Dating Example Pte Ltd",
        "Trust & Safety Lead",
        False,
        ["technology", "private-sector"],
        "Asia/Singapore",
    ),
    (
        "Chloe Tan",
        "chloe.tan@heartmatch.example.com",
        "HeartMatch Dating Example Pte Ltd",
        "Fraud and Scam Investigations Manager",
        False,
        ["technology", "private-sector"],
        "Asia/Singapore",
    ),
    (
        "Rizal Hassan",
        "rizal.hassan@talentbridge.example.com",
        "TalentBridge Recruitment Example Co.",
        "Head of Ethical Recruitment",
        False,
        ["labour", "private-sector"],
        "Asia/Kuala_Lumpur",
    ),
    (
        "Vo Thi Thao",
        "thao.vo@bank.example.com",
        "Example Mekong Bank",
        "Financial Crime Compliance Officer",
        False,
        ["financial-investigations", "private-sector"],
        "Asia/Ho_Chi_Minh",
    ),
    (
        "Leila Ortega",
        "leila.ortega@bank.example.com",
        "Example Mekong Bank",
        "Head of Anti-Money Laundering",
        False,
        ["financial-investigations", "private-sector", "speaker"],
        "Asia/Singapore",
    ),
    # Fictional civil society.
    (
        "Sok Dara (សុខ ដារ៉ា)",
        "sok.dara@mmsn.example.org",
        "Mekong Migrant Support Network",
        "Programme Lead",
        False,
        ["civil-society", "speaker", "covid-recovery"],
        "Asia/Phnom_Penh",
    ),
    (
        "Phan Thi Huong",
        "huong.phan@mmsn.example.org",
        "Mekong Migrant Support Network",
        "Outreach Coordinator",
        False,
        ["civil-society"],
        "Asia/Ho_Chi_Minh",
    ),
    (
        "ပန်းဖြူ (Pan Phyu)",
        "pan.phyu@freedompath.example.org",
        "Freedom Path Foundation",
        "Case Worker",
        False,
        ["civil-society", "speaker"],
        "Asia/Yangon",
    ),
    (
        "Chanthavong Keo",
        "chanthavong.keo@freedompath.example.org",
        "Freedom Path Foundation",
        "Programme Officer",
        False,
        ["civil-society", "speaker"],
        "Asia/Vientiane",
    ),
    (
        "Salote Tupou",
        "salote.tupou@safeharbour.example.org",
        "Pacific Safe Harbour Collective",
        "Director",
        False,
        ["civil-society", "pacific"],
        "Pacific/Tongatapu",
    ),
    (
        "Viliame Rokotuiwai",
        "viliame.r@safeharbour.example.org",
        "Pacific Safe Harbour Collective",
        "Community Liaison Officer",
        False,
        ["civil-society", "pacific"],
        "Pacific/Fiji",
    ),
    (
        "Hannah Kim",
        "hannah.kim@survivorvoices.example.org",
        "Survivor Voices Asia (example)",
        "Advocacy Coordinator",
        False,
        ["civil-society", "survivor-led"],
        "Asia/Seoul",
    ),
    (
        "Mai Anh Nguyen",
        "maianh.nguyen@survivorvoices.example.org",
        "Survivor Voices Asia (example)",
        "Peer Support Worker",
        False,
        ["civil-society", "survivor-led"],
        "Asia/Ho_Chi_Minh",
    ),
]


def _tags(names: list[str], cache: dict[str, Tag]) -> list[Tag]:
    out = []
    for n in names:
        if n not in cache:
            tag = db.session.scalar(sa.select(Tag).where(Tag.name == n))
            if tag is None:
                tag = Tag(name=n)
                db.session.add(tag)
            cache[n] = tag
        out.append(cache[n])
    return out


def seed(echo) -> None:
    orgs = {o.name: o for o in db.session.scalars(sa.select(Organisation))}
    new_orgs = 0
    for name, short, code in MEMBERS:
        if name not in orgs:
            orgs[name] = Organisation(
                name=name,
                short_name=short,
                sector=SECTOR_MEMBER,
                country_code=code,
                working_group_member=name in WORKING_GROUP,
            )
            db.session.add(orgs[name])
            new_orgs += 1
    for name, short, sector, website, notes in OTHERS:
        if name not in orgs:
            orgs[name] = Organisation(name=name, short_name=short, sector=sector, website=website, notes=notes)
            db.session.add(orgs[name])
            new_orgs += 1
    db.session.flush()

    existing = set(db.session.scalars(sa.select(Contact.email)))
    cache: dict[str, Tag] = {}
    new_contacts = 0
    for name, email, org_name, position, focal, tags, tz in CONTACTS:
        if email in existing:
            continue
        contact = Contact(
            name=name, email=email, organisation_id=orgs[org_name].id, position=position, focal_point=focal, timezone=tz
        )
        db.session.add(contact)
        contact.tags = _tags(tags, cache)
        existing.add(email)
        new_contacts += 1

    db.session.flush()
    echo(
        f"directory: {new_orgs} organisations and {new_contacts} contacts created "
        f"({len(MEMBERS)} member governments, {len(WORKING_GROUP)} in the Working Group)"
    )
