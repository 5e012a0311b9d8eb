"""Seeds: ``demo`` (the ids of docs/ARCHITECTURE.md), ``demo_config`` (demo users/pipelines/fields/catalog, no
leads, contacts or companies) and ``None``/``empty`` (users and one default pipeline only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.kommo.fields import CustomFieldDef, Enum
from sandbox.kommo.state import (
    Catalog,
    CatalogElement,
    Company,
    Contact,
    KommoState,
    Lead,
    LeadContact,
    LinkedElement,
    Pipeline,
    Status,
    User,
)

ANNA = 5000001
BORIS = 5000002

SALES = 7000001
WHOLESALE = 7000002
SALES_INCOMING, SALES_QUALIFIED, SALES_PROPOSAL, SALES_PAYMENT_AGREED, SALES_PAID = range(7100001, 7100006)
WS_INCOMING, WS_NEGOTIATION, WS_PAYMENT_AGREED = range(7200001, 7200004)

F_INVOICE_NUMBER = 8100001
F_INVOICE_STATUS = 8100002
F_INVOICE_TOTAL = 8100003
F_AMOUNT_DUE = 8100004
F_AMOUNT_PAID = 8100005
F_XERO_LINK = 8100006
F_ONLINE_INVOICE = 8100007
F_DUE_DATE = 8100008
F_PAID_DATE = 8100009
F_CURRENCY = 8100010
F_DESCRIPTION = 8100011
F_PHONE = 8300001
F_EMAIL = 8300002
F_TAX_NUMBER = 8200001
F_CITY = 8200002

CATALOG_PRODUCTS = 9000001
F_SKU = 9100001
F_PRICE = 9100002

INVOICE_STATUSES = [
    "Draft",
    "Awaiting approval",
    "Awaiting payment",
    "Partially paid",
    "Paid",
    "Overdue",
    "Voided",
    "Deleted",
    "Credited",
    "Needs attention",
]
CURRENCIES = ["NZD", "AUD", "USD", "EUR", "GBP"]
PHONE_ENUMS = ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]
EMAIL_ENUMS = ["WORK", "PRIV", "OTHER"]

# (element id, name, SKU, price)
PRODUCTS: list[tuple[int, str, str, int]] = [
    (9200001, "Website design", "WEB-DESIGN", 4800),
    (9200002, "Hosting, 12 months", "HOSTING-12M", 360),
    (9200003, "SEO audit", "SEO-AUDIT", 1200),
    (9200004, "Support hour", "SUPPORT-HOUR", 150),
    (9200005, "Logo design", "LOGO", 900),
    (9200006, "Training day", "TRAINING-DAY", 1500),
]
PRICE_BY_ELEMENT = {p[0]: p[3] for p in PRODUCTS}

# (id, name, tax number, city, email, phone)
COMPANIES: list[tuple[int, str, str, str, str, str]] = [
    (6500001, "Acme Ltd", "123-456-789", "Auckland", "accounts@acme.example.com", "+64 9 555 0101"),
    (6500002, "Globex Corporation", "98-765-432", "Wellington", "billing@globex.example.com", "+64 4 555 0102"),
    (6500003, "Initech NZ", "45-678-123", "Christchurch", "finance@initech.example.com", "+64 3 555 0103"),
    (6500004, "Umbrella Trading", "33-221-110", "Hamilton", "ap@umbrella.example.com", "+64 7 555 0104"),
    (6500005, "Stark Digital", "56-789-012", "Dunedin", "hello@stark.example.com", "+64 3 555 0105"),
    (6500006, "Wayne Logistics", "67-890-123", "Tauranga", "invoices@wayne.example.com", "+64 7 555 0106"),
    (6500007, "Harbour Cafe", "71-234-567", "Nelson", "nelson@harbourcafe.example.com", "+64 3 555 0107"),
    (6500008, "Harbour Cafe", "82-345-678", "Napier", "napier@harbourcafe.example.net", "+64 6 555 0108"),
]

# (id, first name, last name, email, mobile, company id)
CONTACTS: list[tuple[int, str, str, str, str, int | None]] = [
    (6000001, "Maria", "Lopez", "maria.lopez@acme.example.com", "+64 21 555 0201", 6500001),
    (6000002, "James", "Wilson", "james.wilson@globex.example.com", "+64 21 555 0202", 6500002),
    (6000003, "Priya", "Patel", "priya.patel@initech.example.com", "+64 21 555 0203", 6500003),
    (6000004, "Tom", "Becker", "tom.becker@umbrella.example.com", "+64 21 555 0204", 6500004),
    (6000005, "Aroha", "Ngata", "aroha@stark.example.com", "+64 21 555 0205", 6500005),
    (6000006, "Liam", "O'Connor", "liam.oconnor@wayne.example.com", "+64 21 555 0206", 6500006),
    (6000007, "Sophie", "Martin", "sophie@harbourcafe.example.com", "+64 21 555 0207", 6500007),
    (6000008, "Hemi", "Walker", "hemi@harbourcafe.example.net", "+64 21 555 0208", 6500008),
    (6000009, "Chen", "Wei", "chen.wei@acme.example.com", "+64 21 555 0209", 6500001),
    (6000010, "Olivia", "Brown", "olivia.brown@globex.example.com", "+64 21 555 0210", 6500002),
    (6000011, "Noah", "Smith", "noah.smith@mail.example.com", "+64 21 555 0211", None),
    (6000012, "Emma", "Davis", "emma.davis@mail.example.eu", "+49 30 5550 0212", None),
]


# (id, name, pipeline, status, responsible, [contact ids (first is main)], company, [(element, qty)], price, extra)
LeadRow = tuple[int, str, int, int, int, list[int], int | None, list[tuple[int, int]], int | None, dict[int, Any]]
LEADS: list[LeadRow] = [
    (1000001, "Website redesign - Acme", SALES, SALES_PROPOSAL, ANNA, [6000001], 6500001,
     [(9200001, 1), (9200002, 1)], None, {}),
    (1000002, "Hosting renewal - Globex", SALES, SALES_QUALIFIED, BORIS, [6000002], 6500002,
     [(9200002, 2)], None, {}),
    (1000003, "SEO audit - Initech", SALES, SALES_PROPOSAL, ANNA, [6000003], 6500003, [(9200003, 1)], None, {}),
    (1000004, "Support block - Umbrella", SALES, SALES_QUALIFIED, BORIS, [6000004], 6500004,
     [(9200004, 10)], None, {}),
    (1000005, "Brand refresh - Stark Digital", SALES, SALES_PROPOSAL, ANNA, [6000005], 6500005,
     [(9200005, 1), (9200001, 1)], None, {}),
    (1000006, "Staff training - Wayne Logistics", SALES, SALES_INCOMING, BORIS, [6000006], 6500006,
     [(9200006, 2)], None, {}),
    (1000007, "Menu website - Harbour Cafe Nelson", SALES, SALES_QUALIFIED, ANNA, [6000007], 6500007, [], 2400,
     {F_DESCRIPTION: "Five-page menu website with online booking form"}),
    (1000008, "Online ordering - Harbour Cafe Napier", SALES, SALES_PROPOSAL, BORIS, [6000008], 6500008, [], 3200,
     {}),
    (1000009, "Consulting - Noah Smith", SALES, SALES_QUALIFIED, ANNA, [6000011], None, [], 950,
     {F_DESCRIPTION: "Two consulting sessions on e-commerce setup"}),
    (1000010, "Walk-in enquiry - website", SALES, SALES_INCOMING, BORIS, [], None, [], 1800, {}),
    (1000011, "EU market website - Emma Davis", SALES, SALES_PROPOSAL, ANNA, [6000012], None,
     [(9200001, 1)], None, {F_CURRENCY: "EUR"}),
    (1000012, "Second site hosting - Acme", SALES, SALES_INCOMING, ANNA, [6000009, 6000001], 6500001,
     [(9200002, 1)], None, {}),
    (1000013, "Extra SEO work - Globex", SALES, SALES_QUALIFIED, BORIS, [6000010], 6500002, [], 1250, {}),
    (1000014, "Support retainer - Initech", SALES, SALES_PROPOSAL, ANNA, [6000003], 6500003,
     [(9200004, 20)], None, {}),
    (1000015, "Wholesale hosting - Wayne Logistics", WHOLESALE, WS_NEGOTIATION, BORIS, [6000006], 6500006,
     [(9200002, 12)], None, {}),
    (1000016, "Reseller training - Umbrella", WHOLESALE, WS_INCOMING, ANNA, [6000004], 6500004,
     [(9200006, 3)], None, {}),
    (1000017, "Bulk logo pack - Stark Digital", WHOLESALE, WS_NEGOTIATION, BORIS, [6000005], 6500005,
     [(9200005, 5)], None, {}),
    (1000018, "Partner SEO bundle - Globex", WHOLESALE, WS_NEGOTIATION, ANNA, [6000002, 6000010], 6500002,
     [(9200003, 4)], None, {}),
    (1000019, "Franchise websites - Harbour Cafe", WHOLESALE, WS_INCOMING, BORIS, [6000007], 6500007, [], 9600,
     {}),
    (1000020, "Wholesale support - Acme", WHOLESALE, WS_NEGOTIATION, ANNA, [6000001], 6500001,
     [(9200004, 40)], None, {}),
]  # fmt: skip

DAY = 86400


def _users(state: KommoState) -> None:
    state.users[ANNA] = User(ANNA, "Anna Manager", "anna@demo.example.com", is_admin=True)
    state.users[BORIS] = User(BORIS, "Boris Sales", "boris@demo.example.com")


def _pipeline(pid: int, name: str, sort: int, is_main: bool, stages: list[tuple[int, str, int]]) -> Pipeline:
    colors = ["#c1c1c1", "#99ccff", "#ffff99", "#ffcc66", "#87f2c0", "#deff81"]
    statuses = [
        Status(sid, sname, (i + 1) * 10, pid, type=stype, color=colors[i % len(colors)], is_editable=stype == 0)
        for i, (sid, sname, stype) in enumerate(stages)
    ]
    statuses.append(Status(142, "Closed - won", 10000, pid, color="#CCFF66", is_editable=False))
    statuses.append(Status(143, "Closed - lost", 11000, pid, color="#D5D8DB", is_editable=False))
    return Pipeline(pid, name, sort, is_main, statuses)


def seed_empty(state: KommoState, now: int) -> None:
    """A bare account: the two users and one default pipeline (ids of the demo Sales pipeline, generic stages)."""
    state.account.created_at = now - 365 * DAY
    _users(state)
    state.pipelines[SALES] = _pipeline(
        SALES, "Sales", 1, True, [(SALES_INCOMING, "Incoming leads", 1), (SALES_QUALIFIED, "Initial contact", 0)]
    )


def seed_demo_config(state: KommoState, now: int) -> None:
    state.account.created_at = now - 365 * DAY
    _users(state)
    state.pipelines[SALES] = _pipeline(
        SALES,
        "Sales",
        1,
        True,
        [
            (SALES_INCOMING, "Incoming leads", 1),
            (SALES_QUALIFIED, "Qualified", 0),
            (SALES_PROPOSAL, "Proposal sent", 0),
            (SALES_PAYMENT_AGREED, "Payment agreed", 0),
            (SALES_PAID, "Paid", 0),
        ],
    )
    state.pipelines[WHOLESALE] = _pipeline(
        WHOLESALE,
        "Wholesale",
        2,
        False,
        [
            (WS_INCOMING, "Incoming leads", 1),
            (WS_NEGOTIATION, "Negotiation", 0),
            (WS_PAYMENT_AGREED, "Payment agreed", 0),
        ],
    )
    leads = state.custom_fields["leads"]
    for sort, (fid, name, ftype, enums, enum_start) in enumerate(
        [
            (F_INVOICE_NUMBER, "Invoice number", "text", [], 0),
            (F_INVOICE_STATUS, "Invoice status", "select", INVOICE_STATUSES, 8110001),
            (F_INVOICE_TOTAL, "Invoice total", "numeric", [], 0),
            (F_AMOUNT_DUE, "Amount due", "numeric", [], 0),
            (F_AMOUNT_PAID, "Amount paid", "numeric", [], 0),
            (F_XERO_LINK, "Xero invoice link", "url", [], 0),
            (F_ONLINE_INVOICE, "Online invoice", "url", [], 0),
            (F_DUE_DATE, "Due date", "date", [], 0),
            (F_PAID_DATE, "Paid date", "date", [], 0),
            (F_CURRENCY, "Currency", "select", CURRENCIES, 8110101),
            (F_DESCRIPTION, "Invoice description", "textarea", [], 0),
        ]
    ):
        leads[fid] = CustomFieldDef(
            fid,
            name,
            ftype,
            "leads",
            sort=(sort + 1) * 10,
            enums=[Enum(enum_start + i, v, (i + 1) * 10) for i, v in enumerate(enums)],
        )
    for entity in ("contacts", "companies"):
        defs = state.custom_fields[entity]
        defs[F_PHONE] = CustomFieldDef(
            F_PHONE, "Phone", "multitext", entity, code="PHONE", sort=4,
            enums=[Enum(8310001 + i, v, (i + 1) * 2) for i, v in enumerate(PHONE_ENUMS)],
        )  # fmt: skip
        defs[F_EMAIL] = CustomFieldDef(
            F_EMAIL, "Email", "multitext", entity, code="EMAIL", sort=6,
            enums=[Enum(8320001 + i, v, (i + 1) * 2) for i, v in enumerate(EMAIL_ENUMS)],
        )  # fmt: skip
    companies = state.custom_fields["companies"]
    companies[F_TAX_NUMBER] = CustomFieldDef(F_TAX_NUMBER, "Tax number", "text", "companies", sort=510)
    companies[F_CITY] = CustomFieldDef(F_CITY, "City", "text", "companies", sort=520)

    state.catalogs[CATALOG_PRODUCTS] = Catalog(
        CATALOG_PRODUCTS, "Products", created_at=now - 300 * DAY, created_by=ANNA
    )
    state.catalog_fields[CATALOG_PRODUCTS] = {
        F_SKU: CustomFieldDef(F_SKU, "SKU", "text", "catalogs", code="SKU", sort=10, catalog_id=CATALOG_PRODUCTS),
        F_PRICE: CustomFieldDef(
            F_PRICE, "Price", "price", "catalogs", code="PRICE", sort=20, catalog_id=CATALOG_PRODUCTS
        ),
    }
    for i, (eid, name, sku, price) in enumerate(PRODUCTS):
        state.catalog_elements[eid] = CatalogElement(
            eid,
            CATALOG_PRODUCTS,
            name,
            created_at=now - (300 - i) * DAY,
            updated_at=now - (300 - i) * DAY,
            created_by=ANNA,
            custom_fields={F_SKU: [{"value": sku}], F_PRICE: [{"value": price}]},
        )
    state.bump_ids("catalog_element", max(state.catalog_elements))


def seed_demo(state: KommoState, now: int) -> None:
    seed_demo_config(state, now)
    for i, (cid, name, tax, city, email, phone) in enumerate(COMPANIES):
        created = now - (200 - i * 7) * DAY
        state.companies[cid] = Company(
            cid,
            name,
            responsible_user_id=ANNA if i % 2 == 0 else BORIS,
            created_by=ANNA,
            updated_by=ANNA,
            created_at=created,
            updated_at=created + DAY,
            custom_fields={
                F_PHONE: [{"value": phone, "enum_id": 8310001, "enum_code": "WORK"}],
                F_EMAIL: [{"value": email, "enum_id": 8320001, "enum_code": "WORK"}],
                F_TAX_NUMBER: [{"value": tax}],
                F_CITY: [{"value": city}],
            },
        )
    for i, (cid, first, last, email, mobile, company_id) in enumerate(CONTACTS):
        created = now - (150 - i * 5) * DAY
        state.contacts[cid] = Contact(
            cid,
            f"{first} {last}",
            first,
            last,
            responsible_user_id=ANNA if i % 2 == 0 else BORIS,
            created_by=ANNA,
            updated_by=ANNA,
            created_at=created,
            updated_at=created + 3600,
            company_id=company_id,
            custom_fields={
                F_PHONE: [{"value": mobile, "enum_id": 8310003, "enum_code": "MOB"}],
                F_EMAIL: [{"value": email, "enum_id": 8320001, "enum_code": "WORK"}],
            },
        )
    currency_enum = {e.value: e for e in state.custom_fields["leads"][F_CURRENCY].enums}
    web = state.tag("leads", "website", 300001)
    wholesale = state.tag("leads", "wholesale", 300002)
    for i, (lid, name, pid, sid, resp, contact_ids, company_id, products, price, extra) in enumerate(LEADS):
        created = now - (40 - i) * DAY
        computed = sum(PRICE_BY_ELEMENT[e] * q for e, q in products)
        custom: dict[int, list[dict[str, Any]]] = {}
        for fid, value in extra.items():
            if fid == F_CURRENCY:
                e = currency_enum[value]
                custom[fid] = [{"value": e.value, "enum_id": e.id, "enum_code": None}]
            else:
                custom[fid] = [{"value": value}]
        tags = [wholesale] if pid == WHOLESALE else ([web] if "website" in name.lower() else [])
        state.leads[lid] = Lead(
            lid,
            name,
            price=price if price is not None else computed,
            status_id=sid,
            pipeline_id=pid,
            responsible_user_id=resp,
            created_by=resp,
            updated_by=resp,
            created_at=created,
            updated_at=created + 2 * 3600 + i * 60,
            custom_fields=custom,
            tags=list(tags),
            contacts=[LeadContact(c, j == 0) for j, c in enumerate(contact_ids)],
            company_id=company_id,
            catalog_elements=[LinkedElement(e, CATALOG_PRODUCTS, q, F_PRICE) for e, q in products],
        )
    state.bump_ids("lead", max(state.leads))
    state.bump_ids("contact", max(state.contacts))
    state.bump_ids("company", max(state.companies))


SEEDS: dict[str, Callable[[KommoState, int], None]] = {
    "empty": seed_empty,
    "demo": seed_demo,
    "demo_config": seed_demo_config,
}


def apply_seed(state: KommoState, name: str | None, now: int) -> None:
    fn = SEEDS.get(name or "empty")
    if fn is None:
        raise ValueError(f"unknown seed {name!r}; known: {', '.join(sorted(SEEDS))}")
    fn(state, now)
