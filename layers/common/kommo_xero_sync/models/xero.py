"""Xero Accounting API shapes the product reads. Money is Decimal; ``/Date(ms+0000)/`` dates are parsed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_xero_datetime(value: Any) -> datetime | None:
    """Parse Xero's MS JSON dates (``/Date(1541176592690+0000)/``) and ISO strings into aware UTC datetimes."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    match = _MS_DATE.match(text)
    if match:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Pascal(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ValidationMessage(_Pascal):
    Message: str | None = None
    Description: str | None = None

    @property
    def text(self) -> str:
        return self.Message or self.Description or "validation error"


class XeroContact(_Pascal):
    ContactID: str | None = None
    Name: str | None = None
    ContactNumber: str | None = None
    EmailAddress: str | None = None
    ContactStatus: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    Phones: list[dict[str, Any]] = []
    HasValidationErrors: bool = False
    ValidationErrors: list[ValidationMessage] = []


class XeroPayment(_Pascal):
    PaymentID: str
    Amount: Decimal
    Date: datetime | None = None
    Status: str | None = None

    @field_validator("Date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> datetime | None:
        return parse_xero_datetime(v)


class XeroCreditNoteRef(_Pascal):
    CreditNoteID: str | None = None
    CreditNoteNumber: str | None = None
    AppliedAmount: Decimal | None = None
    Total: Decimal | None = None


class XeroPrepaidCredit(_Pascal):
    """An overpayment or prepayment allocated to the invoice (money the client paid, applied from a credit)."""

    OverpaymentID: str | None = None
    PrepaymentID: str | None = None
    AppliedAmount: Decimal | None = None
    Date: datetime | None = None

    @field_validator("Date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> datetime | None:
        return parse_xero_datetime(v)


class XeroLineItem(_Pascal):
    LineItemID: str | None = None
    Description: str | None = None
    Quantity: Decimal | None = None
    UnitAmount: Decimal | None = None
    LineAmount: Decimal | None = None
    ItemCode: str | None = None
    AccountCode: str | None = None
    TaxType: str | None = None
    TaxAmount: Decimal | None = None


class XeroInvoice(_Pascal):
    InvoiceID: str | None = None
    InvoiceNumber: str | None = None
    Type: str | None = None
    Status: str | None = None
    Reference: str | None = None
    Contact: XeroContact | None = None
    LineItems: list[XeroLineItem] = []
    LineAmountTypes: str | None = None
    CurrencyCode: str | None = None
    SubTotal: Decimal | None = None
    TotalTax: Decimal | None = None
    Total: Decimal | None = None
    AmountDue: Decimal | None = None
    AmountPaid: Decimal | None = None
    AmountCredited: Decimal | None = None
    Date: datetime | None = None
    DueDate: datetime | None = None
    FullyPaidOnDate: datetime | None = None
    UpdatedDateUTC: datetime | None = None
    Payments: list[XeroPayment] = []
    CreditNotes: list[XeroCreditNoteRef] = []
    Overpayments: list[XeroPrepaidCredit] = []
    Prepayments: list[XeroPrepaidCredit] = []
    HasErrors: bool = False
    StatusAttributeString: str | None = None
    ValidationErrors: list[ValidationMessage] = []

    @field_validator("Date", "DueDate", "FullyPaidOnDate", "UpdatedDateUTC", mode="before")
    @classmethod
    def _dates(cls, v: Any) -> datetime | None:
        return parse_xero_datetime(v)

    @property
    def failed(self) -> bool:
        return self.HasErrors or self.StatusAttributeString == "ERROR" or bool(self.ValidationErrors)

    @property
    def error_text(self) -> str:
        return "; ".join(v.text for v in self.ValidationErrors) or "Xero rejected the invoice"


class XeroOrganisation(_Pascal):
    OrganisationID: str | None = None
    Name: str | None = None
    ShortCode: str | None = None
    BaseCurrency: str | None = None
