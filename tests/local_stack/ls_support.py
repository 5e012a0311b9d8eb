"""Paths and helpers shared by the local_stack tests (a uniquely named module: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
FIXTURE_MAPPING = FIXTURES / "mapping.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_TEMPLATE = REPO_ROOT / "template.yaml"
