"""One typed configuration: environment variables (Settings) plus the mapping document (Mapping).

Loaded once per cold start by the handlers (``get_config``); the logic receives the resulting ``AppConfig`` and never
reads the environment itself. A missing or wrong key fails with a ``ConfigError`` that names the key and says what is
expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from kommo_xero_sync.exceptions import ConfigError

XeroInvoiceStatus = Literal["DRAFT", "SUBMITTED", "AUTHORISED"]
LineAmountTypes = Literal["Exclusive", "Inclusive", "NoTax"]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
PositiveId = Annotated[int, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Strict):
    """Environment variables (template Globals)."""

    kommo_subdomain: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    kommo_base_url: HttpUrl | None = None
    xero_api_url: HttpUrl = HttpUrl("https://api.xero.com/api.xro/2.0")
    xero_identity_url: HttpUrl = HttpUrl("https://identity.xero.com")
    sync_table: Annotated[str, Field(min_length=3)]
    idempotency_table: Annotated[str, Field(min_length=3)]
    jobs_queue_url: HttpUrl
    credentials_secret: Annotated[str, Field(min_length=1)]
    mapping_parameter: str | None = None
    mapping_document: str | None = None
    stage: str = "dev"

    @field_validator("kommo_base_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _mapping_source(self) -> Settings:
        if not self.mapping_parameter and not self.mapping_document:
            raise ValueError("set MAPPING_PARAMETER (SSM parameter name) or MAPPING_DOCUMENT (inline JSON)")
        return self

    @property
    def kommo_origin(self) -> str:
        if self.kommo_base_url is not None:
            return str(self.kommo_base_url).rstrip("/")
        return f"https://{self.kommo_subdomain}.kommo.com"

    @property
    def xero_api_base(self) -> str:
        return str(self.xero_api_url).rstrip("/")

    @property
    def xero_connections_url(self) -> str:
        """Connections live at the API origin (``https://api.xero.com/connections``)."""
        url = self.xero_api_url
        port = f":{url.port}" if url.port and url.port not in (80, 443) else ""
        return f"{url.scheme}://{url.host}{port}/connections"

    @property
    def xero_token_url(self) -> str:
        return str(self.xero_identity_url).rstrip("/") + "/connect/token"


class StageRef(_Strict):
    pipeline_id: PositiveId
    status_id: PositiveId


class KommoFields(_Strict):
    """Ids of the deal's custom fields the product writes (any may be omitted to skip writing it)."""

    invoice_number: PositiveId | None = None
    invoice_status: PositiveId | None = None
    invoice_total: PositiveId | None = None
    amount_due: PositiveId | None = None
    amount_paid: PositiveId | None = None
    invoice_link: PositiveId | None = None
    online_invoice_link: PositiveId | None = None
    due_date: PositiveId | None = None
    paid_date: PositiveId | None = None
    currency: PositiveId | None = None
    description: PositiveId | None = None


class RequiredField(_Strict):
    """A custom field that must be filled before a deal can be invoiced (e.g. the company's tax number)."""

    entity: Literal["lead", "contact", "company"]
    field_id: PositiveId
    label: Annotated[str, Field(min_length=1)]


class KommoMapping(_Strict):
    account_id: PositiveId
    subdomain: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    triggers: Annotated[list[StageRef], Field(min_length=1)]
    fields: KommoFields = KommoFields()
    required_fields: list[RequiredField] = []
    company_tax_number_field: PositiveId | None = None
    company_city_field: PositiveId | None = None
    catalog_sku_field_code: str = "SKU"
    # Invoice -> deal. Deals created from hand-made Xero invoices go to ``invoice_deal_stage`` (None: only match
    # existing deals, never create), carry ``invoice_deal_tag`` (such deals are never invoiced by the product) and
    # belong to ``responsible_user_id``. Open deals of ``match_pipelines`` are matched by client, amount and currency.
    invoice_deal_stage: StageRef | None = None
    responsible_user_id: PositiveId | None = None
    invoice_deal_tag: Annotated[str, Field(min_length=1, max_length=100)] = "Xero"
    match_pipelines: list[PositiveId] = []
    # Stage moves on payment status (None: do not move).
    paid_stage: StageRef | None = None
    voided_stage: StageRef | None = None
    # A task for the deal's responsible user when its invoice becomes overdue (``{number}``, ``{amount_due}``,
    # ``{currency}`` and ``{due_date}`` are filled in), due ``overdue_task_days`` after the day it is set.
    overdue_task: bool = False
    overdue_task_text: Annotated[str, Field(min_length=1, max_length=1000)] = (
        "Invoice {number} is overdue since {due_date}: {amount_due} {currency} unpaid. Please contact the client."
    )
    overdue_task_type_id: PositiveId = 1  # 1 = Follow-up
    overdue_task_days: Annotated[int, Field(ge=0, le=30)] = 1
    note_service_name: str = "Xero sync"

    @field_validator("overdue_task_text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            value.format(number="", amount_due="", currency="", due_date="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown placeholder or stray brace ({exc}); use {{number}}, {{amount_due}}, {{currency}}, {{due_date}}"
            ) from exc
        return value


class ProductAccounting(_Strict):
    account_code: str | None = None
    tax_type: str | None = None


class XeroMapping(_Strict):
    tenant_id: str | None = None
    invoice_status: XeroInvoiceStatus = "AUTHORISED"
    line_amount_types: LineAmountTypes = "Exclusive"
    default_account_code: Annotated[str, Field(min_length=1)]
    default_tax_type: Annotated[str, Field(min_length=1)]
    products: dict[str, ProductAccounting] = {}
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 14
    default_currency: CurrencyCode | None = None
    accepted_manual_statuses: list[Literal["DRAFT", "SUBMITTED", "AUTHORISED"]] = ["SUBMITTED", "AUTHORISED"]
    # Hand-made invoices dated before this day never become deals. None: the day the product first saw an invoice
    # (so installing it does not turn last month's invoices into deals).
    create_deals_from: date | None = None
    update_draft_on_change: bool = False
    attach_pdf: bool = False
    invoice_batch_size: Annotated[int, Field(ge=1, le=50)] = 50


class Mapping(_Strict):
    kommo: KommoMapping
    xero: XeroMapping

    def is_trigger(self, pipeline_id: int, status_id: int) -> bool:
        return any(t.pipeline_id == pipeline_id and t.status_id == status_id for t in self.kommo.triggers)


class AppConfig(_Strict):
    settings: Settings
    mapping: Mapping


def _describe(exc: ValidationError, prefix: str) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(document)"
        key = f"{prefix}{loc.upper()}" if prefix == "env " else f"{prefix}{loc}"
        problems.append(f"{key}: {err['msg']}")
    return "; ".join(problems)


def settings_from_env(env: MappingABC[str, str]) -> Settings:
    wanted = {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    try:
        return Settings.model_validate(wanted)
    except ValidationError as exc:
        raise ConfigError(f"invalid environment: {_describe(exc, 'env ')}") from exc


def parse_mapping(document: str, source: str = "mapping document") -> Mapping:
    try:
        raw = json.loads(document)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid: {_describe(exc, '')}") from exc


def load_config(env: MappingABC[str, str], fetch_parameter: Callable[[str], str]) -> AppConfig:
    """Build the configuration from the environment and the mapping document.

    ``fetch_parameter`` reads the SSM parameter named by ``MAPPING_PARAMETER`` (injected so this stays I/O free).
    """
    settings = settings_from_env(env)
    if settings.mapping_document:
        mapping = parse_mapping(settings.mapping_document, "MAPPING_DOCUMENT")
    else:
        assert settings.mapping_parameter is not None
        mapping = parse_mapping(
            fetch_parameter(settings.mapping_parameter), f"SSM parameter {settings.mapping_parameter}"
        )
    if mapping.kommo.subdomain != settings.kommo_subdomain:
        raise ConfigError(
            f"mapping kommo.subdomain '{mapping.kommo.subdomain}' does not match KOMMO_SUBDOMAIN '{settings.kommo_subdomain}'"
        )
    return AppConfig(settings=settings, mapping=mapping)
