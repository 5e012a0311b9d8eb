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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalAws]:
    aws = LocalAws()
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture
def moto(moto_server: LocalAws) -> LocalAws:
    """The shared moto server, reset (moto's state is process-global; LocalStack tests reset it too)."""
    moto_server.reset()
    return moto_server
