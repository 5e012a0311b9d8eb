"""Kommo API v4 shapes the product reads (extra fields are ignored, never rejected)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CustomFieldValue(_Loose):
    field_id: int
    field_code: str | None = None
    field_name: str | None = None
    field_type: str | None = None
    values: list[dict[str, Any]] = []


class _WithFields(_Loose):
    custom_fields_values: list[CustomFieldValue] | None = None

    def field(self, field_id: int | None = None, code: str | None = None) -> CustomFieldValue | None:
        for cf in self.custom_fields_values or []:
            if (field_id is not None and cf.field_id == field_id) or (code is not None and cf.field_code == code):
                return cf
        return None

    def field_value(self, field_id: int | None = None, code: str | None = None) -> Any:
        """First value of a custom field (``None`` when absent or empty)."""
        cf = self.field(field_id, code)
        if cf is None or not cf.values:
            return None
        value = cf.values[0].get("value")
        return None if value in ("", None) else value

    def field_values(self, code: str) -> list[str]:
        cf = self.field(code=code)
        return [str(v["value"]) for v in (cf.values if cf else []) if v.get("value")]


class EmbeddedRef(_Loose):
    id: int
    is_main: bool | None = None


class CatalogLink(_Loose):
    id: int
    metadata: dict[str, Any] = {}

    @property
    def quantity(self) -> Decimal:
        q = self.metadata.get("quantity")
        return Decimal(str(q)) if q not in (None, "") else Decimal(1)

    @property
    def catalog_id(self) -> int | None:
        c = self.metadata.get("catalog_id")
        return int(c) if c is not None else None


class Tag(_Loose):
    id: int | None = None
    name: str


class LeadEmbedded(_Loose):
    contacts: list[EmbeddedRef] = []
    companies: list[EmbeddedRef] = []
    catalog_elements: list[CatalogLink] = []
    tags: list[Tag] = []


class Lead(_WithFields):
    id: int
    name: str = ""
    price: Decimal | None = None
    status_id: int
    pipeline_id: int
    responsible_user_id: int | None = None
    updated_at: int | None = None
    is_deleted: bool = False
    embedded: LeadEmbedded = Field(default_factory=LeadEmbedded, alias="_embedded")

    @property
    def main_contact_id(self) -> int | None:
        contacts = self.embedded.contacts
        for ref in contacts:
            if ref.is_main:
                return ref.id
        return contacts[0].id if contacts else None

    @property
    def company_id(self) -> int | None:
        return self.embedded.companies[0].id if self.embedded.companies else None

    def has_tag(self, name: str) -> bool:
        wanted = name.strip().lower()
        return any(t.name.strip().lower() == wanted for t in self.embedded.tags)


class Contact(_WithFields):
    kind: ClassVar[str] = "contact"  # the entity name the link table and ContactNumber use

    id: int
    name: str = ""
    first_name: str | None = None
    last_name: str | None = None
    embedded: dict[str, Any] = Field(default_factory=dict, alias="_embedded")

    @property
    def full_name(self) -> str:
        """First and last name (people); empty for companies."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def email(self) -> str | None:
        emails = self.field_values("EMAIL")
        return emails[0] if emails else None

    @property
    def phone(self) -> str | None:
        phones = self.field_values("PHONE")
        return phones[0] if phones else None

    @property
    def company_ids(self) -> list[int]:
        return [int(c["id"]) for c in self.embedded.get("companies", []) if "id" in c]


class Company(Contact):
    """Companies have the same shape as contacts (name, EMAIL/PHONE multitext, custom fields)."""

    kind: ClassVar[str] = "company"


class CatalogElement(_WithFields):
    id: int
    name: str = ""
    catalog_id: int | None = None

    def sku(self, code: str = "SKU") -> str | None:
        value = self.field_value(code=code)
        return str(value) if value else None

    def price(self) -> Decimal | None:
        value = self.field_value(code="PRICE")
        if value is None:
            for cf in self.custom_fields_values or []:
                if cf.field_type == "price" and cf.values:
                    value = cf.values[0].get("value")
        return Decimal(str(value)) if value not in (None, "") else None


class StageChange(BaseModel):
    """One lead's stage change taken from a Kommo webhook body."""

    model_config = ConfigDict(frozen=True)

    lead_id: int
    pipeline_id: int
    status_id: int
    old_status_id: int | None = None
    modified_at: int | None = None
