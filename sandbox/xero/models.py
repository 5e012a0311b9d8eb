"""The organisation's records, and how each is rendered in the Accounting API's JSON shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.xero.formats import date_string, ms_date, utc_string

ZERO = Decimal("0.00")
RATE_ONE = Decimal("1.000000")


@dataclass
class Organisation:
    organisation_id: str
    name: str
    short_code: str
    base_currency: str
    country_code: str = "NZ"
    timezone: str = "NEWZEALANDSTANDARDTIME"
    created: datetime | None = None
    sales_terms_day: int = 20
    sales_terms_type: str = "OFFOLLOWINGMONTH"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "APIKey": "",
            "Name": self.name,
            "LegalName": self.name,
            "PaysTax": True,
            "Version": "NZ",
            "OrganisationType": "COMPANY",
            "BaseCurrency": self.base_currency,
            "CountryCode": self.country_code,
            "IsDemoCompany": True,
            "OrganisationStatus": "ACTIVE",
            "TaxNumber": "101-202-303",
            "FinancialYearEndDay": 31,
            "FinancialYearEndMonth": 3,
            "SalesTaxBasis": "PAYMENTS",
            "SalesTaxPeriod": "TWOMONTHS",
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive",
            "Timezone": self.timezone,
            "OrganisationEntityType": "COMPANY",
            "ShortCode": self.short_code,
            "Class": "DEMO",
            "Edition": "BUSINESS",
            "LineOfBusiness": "Professional services",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {
                "Bills": {"Day": 20, "Type": "OFFOLLOWINGMONTH"},
                "Sales": {"Day": self.sales_terms_day, "Type": self.sales_terms_type},
            },
            "OrganisationID": self.organisation_id,
        }
        if self.created is not None:
            out["CreatedDateUTC"] = ms_date(self.created)
        return out


@dataclass
class Currency:
    code: str
    description: str

    def to_json(self) -> dict[str, Any]:
        return {"Code": self.code, "Description": self.description}


@dataclass
class Account:
    account_id: str
    code: str
    name: str
    type: str
    account_class: str
    tax_type: str = "NONE"
    enable_payments: bool = False
    bank_account_number: str | None = None
    system_account: str | None = None
    status: str = "ACTIVE"
    updated: datetime | None = None

    @property
    def accepts_payments(self) -> bool:
        return self.status == "ACTIVE" and (self.type == "BANK" or self.enable_payments)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AccountID": self.account_id,
            "Code": self.code,
            "Name": self.name,
            "Status": self.status,
            "Type": self.type,
            "TaxType": self.tax_type,
            "Class": self.account_class,
            "EnablePaymentsToAccount": self.enable_payments,
            "ShowInExpenseClaims": False,
            "ReportingCode": {"REVENUE": "REV", "ASSET": "ASS", "EXPENSE": "EXP"}.get(self.account_class, "LIA"),
            "ReportingCodeName": self.account_class.title(),
            "HasAttachments": False,
            "AddToWatchlist": False,
        }
        if self.type == "BANK":
            out["BankAccountNumber"] = self.bank_account_number or ""
            out["BankAccountType"] = "BANK"
            out["CurrencyCode"] = "NZD"
        if self.system_account:
            out["SystemAccount"] = self.system_account
        if self.updated is not None:
            out["UpdatedDateUTC"] = ms_date(self.updated)
        return out


@dataclass
class TaxRate:
    tax_type: str
    name: str
    rate: Decimal  # percent, e.g. Decimal("15.0000")
    report_tax_type: str
    can_apply_to_revenue: bool = True
    can_apply_to_expenses: bool = True
    status: str = "ACTIVE"

    @property
    def fraction(self) -> Decimal:
        return self.rate / Decimal(100)

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "TaxType": self.tax_type,
            "ReportTaxType": self.report_tax_type,
            "CanApplyToAssets": True,
            "CanApplyToEquity": True,
            "CanApplyToExpenses": self.can_apply_to_expenses,
            "CanApplyToLiabilities": True,
            "CanApplyToRevenue": self.can_apply_to_revenue,
            "DisplayTaxRate": self.rate,
            "EffectiveRate": self.rate,
            "Status": self.status,
            "TaxComponents": [
                {"Name": "GST", "Rate": self.rate, "IsCompound": False, "IsNonRecoverable": False},
            ],
        }


@dataclass
class Item:
    item_id: str
    code: str
    name: str
    description: str
    unit_price: Decimal
    account_code: str = "200"
    tax_type: str = "OUTPUT2"
    updated: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ItemID": self.item_id,
            "Code": self.code,
            "Name": self.name,
            "Description": self.description,
            "IsSold": True,
            "IsPurchased": False,
            "IsTrackedAsInventory": False,
            "SalesDetails": {"UnitPrice": self.unit_price, "AccountCode": self.account_code, "TaxType": self.tax_type},
            "PurchaseDetails": {},
        }
        if self.updated is not None:
            out["UpdatedDateUTC"] = ms_date(self.updated)
        return out


@dataclass
class Contact:
    contact_id: str
    name: str
    updated: datetime
    contact_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    tax_number: str | None = None
    account_number: str | None = None
    status: str = "ACTIVE"
    is_customer: bool = False
    is_supplier: bool = False
    default_currency: str | None = None
    addresses: list[dict[str, Any]] = field(default_factory=list)
    phones: list[dict[str, Any]] = field(default_factory=list)

    def summary_json(self) -> dict[str, Any]:
        """The contact as embedded in an invoice, payment or credit note."""
        out: dict[str, Any] = {"ContactID": self.contact_id}
        if self.contact_number:
            out["ContactNumber"] = self.contact_number
        out["ContactStatus"] = self.status
        out["Name"] = self.name
        if self.first_name:
            out["FirstName"] = self.first_name
        if self.last_name:
            out["LastName"] = self.last_name
        if self.email:
            out["EmailAddress"] = self.email
        out["ContactPersons"] = []
        out["HasValidationErrors"] = False
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ContactID": self.contact_id}
        if self.contact_number:
            out["ContactNumber"] = self.contact_number
        if self.account_number:
            out["AccountNumber"] = self.account_number
        out["ContactStatus"] = self.status
        out["Name"] = self.name
        if self.first_name:
            out["FirstName"] = self.first_name
        if self.last_name:
            out["LastName"] = self.last_name
        if self.email:
            out["EmailAddress"] = self.email
        out["BankAccountDetails"] = ""
        if self.tax_number:
            out["TaxNumber"] = self.tax_number
        out["Addresses"] = [dict(a) for a in self.addresses] or [
            {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
            {"AddressType": "POBOX", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        ]
        out["Phones"] = [dict(p) for p in self.phones] or [
            {"PhoneType": t, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
            for t in ("DEFAULT", "DDI", "FAX", "MOBILE")
        ]
        out["UpdatedDateUTC"] = ms_date(self.updated)
        out["ContactGroups"] = []
        out["IsSupplier"] = self.is_supplier
        out["IsCustomer"] = self.is_customer
        if self.default_currency:
            out["DefaultCurrency"] = self.default_currency
        out["SalesTrackingCategories"] = []
        out["PurchasesTrackingCategories"] = []
        out["ContactPersons"] = []
        out["HasValidationErrors"] = False
        return out


@dataclass
class LineItem:
    line_item_id: str
    description: str
    quantity: Decimal
    unit_amount: Decimal
    account_code: str | None
    tax_type: str | None
    tax_amount: Decimal
    line_amount: Decimal
    item_code: str | None = None
    discount_rate: Decimal | None = None
    tracking: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Description": self.description, "UnitAmount": self.unit_amount}
        if self.tax_type:
            out["TaxType"] = self.tax_type
        out["TaxAmount"] = self.tax_amount
        out["LineAmount"] = self.line_amount
        if self.account_code:
            out["AccountCode"] = self.account_code
        if self.item_code:
            out["ItemCode"] = self.item_code
        if self.discount_rate is not None:
            out["DiscountRate"] = self.discount_rate
        out["Tracking"] = [dict(t) for t in self.tracking]
        out["Quantity"] = self.quantity
        out["LineItemID"] = self.line_item_id
        out["ValidationErrors"] = []
        return out


@dataclass
class Payment:
    payment_id: str
    invoice_id: str
    account_code: str
    date: dt.date
    amount: Decimal
    updated: datetime
    reference: str = ""
    currency_rate: Decimal = RATE_ONE
    status: str = "AUTHORISED"
    payment_type: str = "ACCRECPAYMENT"
    credit_note_id: str | None = None

    def summary_json(self) -> dict[str, Any]:
        """As listed in ``Invoice.Payments``."""
        return {
            "PaymentID": self.payment_id,
            "Date": ms_date(self.date),
            "Amount": self.amount,
            "Reference": self.reference,
            "CurrencyRate": self.currency_rate,
            "HasAccount": False,
            "HasValidationErrors": False,
        }


@dataclass
class Allocation:
    allocation_id: str
    credit_note_id: str
    invoice_id: str
    amount: Decimal
    date: dt.date
    is_deleted: bool = False


@dataclass
class Document:
    """An invoice (ACCREC / ACCPAY) or a credit note (ACCRECCREDIT / ACCPAYCREDIT): same lines, same totals."""

    doc_id: str
    type: str
    contact_id: str
    number: str
    reference: str
    date: dt.date
    due_date: dt.date | None
    status: str
    line_amount_types: str
    currency: str
    line_items: list[LineItem]
    created: datetime
    updated: datetime
    sub_total: Decimal = ZERO
    total_tax: Decimal = ZERO
    total: Decimal = ZERO
    currency_rate: Decimal = RATE_ONE
    url: str | None = None
    sent_to_contact: bool = False
    expected_payment_date: dt.date | None = None
    fully_paid_on: dt.date | None = None
    payment_ids: list[str] = field(default_factory=list)
    allocation_ids: list[str] = field(default_factory=list)
    amount_paid: Decimal = ZERO
    amount_credited: Decimal = ZERO

    @property
    def is_credit_note(self) -> bool:
        return self.type.endswith("CREDIT")

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.amount_paid - self.amount_credited

    @property
    def has_settlements(self) -> bool:
        return bool(self.payment_ids or self.allocation_ids)


def envelope_dates(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"DateString": date_string(doc.date), "Date": ms_date(doc.date)}
    if doc.due_date is not None:
        out["DueDateString"] = date_string(doc.due_date)
        out["DueDate"] = ms_date(doc.due_date)
    return out


def updated_fields(updated: datetime) -> dict[str, Any]:
    return {"UpdatedDateUTC": ms_date(updated), "UpdatedDateUTCString": utc_string(updated)}
