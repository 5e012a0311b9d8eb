"""Powertools logger, metrics and tracer shared by every function (module-level objects do no I/O)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="kommo-xero-sync")
metrics = Metrics(namespace="KommoXeroSync", service="kommo-xero-sync")
tracer = Tracer(service="kommo-xero-sync")
