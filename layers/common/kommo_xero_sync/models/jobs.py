"""Queue messages: one JSON message per unit of work, discriminated by ``kind``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadStageJob(_Job):
    """A Kommo deal entered a trigger stage: create (at most one) Xero invoice for it."""

    kind: Literal["kommo.lead_stage"] = "kommo.lead_stage"
    lead_id: Annotated[int, Field(gt=0)]
    pipeline_id: Annotated[int, Field(gt=0)]
    status_id: Annotated[int, Field(gt=0)]
    modified_at: int | None = None

    @property
    def dedup_key(self) -> str:
        return f"kommo:{self.lead_id}:{self.pipeline_id}:{self.status_id}:{self.modified_at}"


class XeroInvoiceJob(_Job):
    """A Xero invoice was created or changed (webhook or sweep): reflect it in Kommo."""

    kind: Literal["xero.invoice"] = "xero.invoice"
    tenant_id: str
    invoice_id: str
    event_type: Literal["CREATE", "UPDATE", "SWEEP"] = "UPDATE"
    event_date: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"xero:{self.tenant_id}:INVOICE:{self.invoice_id}:{self.event_type}:{self.event_date}"


class InvoiceFollowUpJob(_Job):
    """After an invoice is created: fetch its online link and PDF and put them on the deal (rate-limit friendly)."""

    kind: Literal["xero.invoice_followup"] = "xero.invoice_followup"
    lead_id: Annotated[int, Field(gt=0)]
    invoice_id: str

    @property
    def dedup_key(self) -> str:
        return f"followup:{self.lead_id}:{self.invoice_id}"


AnyJob = LeadStageJob | XeroInvoiceJob | InvoiceFollowUpJob
Job = Annotated[AnyJob, Field(discriminator="kind")]
JOB_ADAPTER: TypeAdapter[AnyJob] = TypeAdapter(Job)


def parse_job(body: str) -> AnyJob:
    return JOB_ADAPTER.validate_json(body)
