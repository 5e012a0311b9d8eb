"""The demo's check plumbing (the scenario itself runs against the real sandboxes: `python -m local_stack demo`)."""

from __future__ import annotations

import pytest

from local_stack import demo
from local_stack.__main__ import _parse


def test_flow_check_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "PENDING_FLOWS", {"pending_flow"})
    assert demo.flow_check("c", "pending_flow", True, True).status == demo.OK
    assert demo.flow_check("c", "pending_flow", False, False).status == demo.PENDING
    assert demo.flow_check("c", "pending_flow", False, True).status == demo.FAIL  # partly working: a real failure
    assert demo.flow_check("c", "strict_flow", False, False).status == demo.FAIL


def test_render_table() -> None:
    text = demo.render_table(["deal", "invoice"], [["1000001", "INV-0001"], ["-", "-"]])
    lines = text.splitlines()
    assert lines[0].startswith("deal") and "INV-0001" in lines[2] and len(lines) == 4


def test_cli_arguments() -> None:
    args = _parse(["up", "--sweep-interval", "5", "--gateway-port", "3000"])
    assert (args.command, args.sweep_interval, args.gateway_port) == ("up", 5.0, 3000)
    assert _parse(["demo", "-v"]).verbose
    with pytest.raises(SystemExit):
        _parse([])
