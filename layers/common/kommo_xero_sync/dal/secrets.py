"""Secrets Manager (credentials) and SSM (mapping document), read through Powertools parameters.

Cached for 5 minutes per container (Powertools' default): credentials here are long-lived (Kommo long-lived token,
Xero custom-connection client id/secret, webhook secrets), so a rotation takes effect within 5 minutes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from kommo_xero_sync.exceptions import ConfigError


class Credentials(BaseModel):
    """The credentials secret. SecretStr keeps values out of reprs, logs and error messages."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kommo_webhook_token: SecretStr = Field(min_length=16)
    kommo_access_token: SecretStr = Field(min_length=1)
    xero_client_id: SecretStr = Field(min_length=1)
    xero_client_secret: SecretStr = Field(min_length=1)
    xero_webhook_key: SecretStr = Field(min_length=1)


def load_credentials(secret_id: str, *, max_age: int = 300) -> Credentials:
    try:
        raw: Any = parameters.get_secret(secret_id, transform="json", max_age=max_age)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigError(f"cannot read the credentials secret '{secret_id}': {type(exc.__cause__).__name__}") from exc
    try:
        return Credentials.model_validate(raw)
    except ValidationError as exc:
        missing = ", ".join(".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors())
        raise ConfigError(f"credentials secret '{secret_id}' is incomplete: {missing}") from None


def fetch_parameter(name: str) -> str:
    try:
        return str(parameters.get_parameter(name, max_age=300))
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigError(f"cannot read SSM parameter '{name}' (the mapping document)") from exc
