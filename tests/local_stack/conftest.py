"""Fixtures for the local_stack tests: a fixture template with fake functions, and moto on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ls_support import FIXTURE_TEMPLATE

from local_stack.aws import LocalAws
from local_stack.template import Template


@pytest.fixture
def fixture_template() -> Template:
    return Template(FIXTURE_TEMPLATE)


@pytest.fixture
def moto() -> Iterator[LocalAws]:
    aws = LocalAws()
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()
