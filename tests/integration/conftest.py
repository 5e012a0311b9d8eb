"""Every integration module defines its own module-scoped ``stack`` (LocalStack with the mapping it needs)."""

from __future__ import annotations

import pytest

from tests.integration.helpers import reset_stack


@pytest.fixture
def env(stack):
    """Every test starts from the demo seed; each test module provides its own module-scoped ``stack``."""
    return reset_stack(stack)
