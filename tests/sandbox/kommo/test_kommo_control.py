"""The /_sandbox control interface, the HTML page at /, and ``python -m sandbox.kommo``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import requests
from kommo_support import Api, Receiver

from sandbox.kommo import KommoSandbox

ROOT = Path(__file__).resolve().parents[3]


def test_move_over_http_json_bulk_is_one_webhook(kommo: KommoSandbox, receiver: Receiver) -> None:
    kommo.add_webhook(receiver.url)
    r = requests.post(
        kommo.base_url + "/_sandbox/move",
        json={"lead_ids": [1000015, 1000017, 1000018], "status_id": 7200003, "pipeline_id": 7000002},
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["moved"] == [1000015, 1000017, 1000018]
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)
    assert len(receiver.requests) == 1
    ids = [v for k, v in parse_qsl(receiver.requests[0].body) if k.endswith("][id]") and "[tags]" not in k]
    assert ids == ["1000015", "1000017", "1000018"]
    single = requests.post(
        kommo.base_url + "/_sandbox/move", json={"lead_id": 1000016, "status_id": 7200003}, timeout=5
    )
    assert single.status_code == 200
    assert kommo.leads[1000016].status_id == 7200003
    bad = requests.post(kommo.base_url + "/_sandbox/move", json={"lead_id": 1, "status_id": 7200003}, timeout=5)
    assert bad.status_code == 400


def test_page_lists_deals_by_stage_and_its_form_moves_them(kommo: KommoSandbox) -> None:
    page = requests.get(kommo.base_url + "/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    for text in (
        "Sales",
        "Wholesale",
        "Payment agreed",
        "Proposal sent",
        "Website redesign - Acme",
        "Globex Corporation",
    ):
        assert text in html
    assert "action='/_sandbox/move'" in html and "value='7000001:7100004'" in html
    r = requests.post(
        kommo.base_url + "/_sandbox/move",
        data={"target": "7000001:7100004", "lead_ids": ["1000001", "1000003"]},
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 303 and r.headers["Location"].startswith("/")
    assert kommo.leads[1000001].status_id == 7100004 and kommo.leads[1000003].status_id == 7100004
    assert "Moved 2 deal(s)" in requests.get(kommo.base_url + r.headers["Location"], timeout=5).text


def test_control_state_counters_faults_clock_reset(kommo: KommoSandbox, api: Api) -> None:
    base = kommo.base_url + "/_sandbox"
    state = requests.get(base + "/state", timeout=5).json()
    assert len(state["leads"]) == 20 and len(state["companies"]) == 8 and len(state["catalog_elements"]) == 6
    assert requests.get(base + "/leads/1000001", timeout=5).json()["_embedded"]["catalog_elements"]
    assert requests.get(base + "/leads/424242", timeout=5).status_code == 404

    r = requests.post(
        base + "/faults", json={"route": "GET /api/v4/leads", "error_rate": 1.0, "status": 502}, timeout=5
    )
    assert r.status_code == 201
    assert api.get("/api/v4/leads").status_code == 502
    assert requests.delete(base + "/faults", timeout=5).json() == {"ok": True}
    assert api.get("/api/v4/leads").status_code == 200
    counters = requests.get(base + "/counters", timeout=5).json()
    assert counters["routes"]["GET /api/v4/leads"] == {"calls": 2, "200": 1, "502": 1}

    before = requests.get(base + "/clock", timeout=5).json()["time"]
    after = requests.post(base + "/clock/advance", json={"seconds": 3600}, timeout=5).json()["time"]
    assert after - before >= 3600

    api.patch("/api/v4/leads/1000001", json={"price": 1})
    assert requests.post(base + "/reset", timeout=5).json() == {"ok": True}
    assert kommo.leads[1000001].price == 5160
    assert requests.get(base + "/counters", timeout=5).json()["total"] == 0

    assert requests.post(base + "/seed", json={"name": "demo_config"}, timeout=5).status_code == 200
    assert kommo.leads == {} and len(kommo.state.pipelines) == 2 and len(kommo.state.catalog_elements) == 6


def test_control_oauth_tokens_and_webhooks(kommo: KommoSandbox, receiver: Receiver) -> None:
    base = kommo.base_url + "/_sandbox"
    token = requests.post(base + "/tokens", json={"token": "another-token"}, timeout=5).json()["token"]
    assert Api(kommo.base_url, token).get("/api/v4/account").status_code == 200
    client = requests.post(base + "/oauth/clients", json={"redirect_uri": "https://x.example.com/cb"}, timeout=5).json()
    code = requests.post(base + "/oauth/codes", json={"client_id": client["client_id"]}, timeout=5).json()["code"]
    r = requests.post(
        kommo.base_url + "/oauth2/access_token",
        json={
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "redirect_uri": "https://x.example.com/cb",
            "grant_type": "authorization_code",
            "code": code,
        },
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["refresh_token"]
    assert requests.post(base + "/webhooks", json={"destination": receiver.url}, timeout=5).status_code == 201
    assert [h["settings"] for h in requests.get(base + "/webhooks", timeout=5).json()["webhooks"]] == [["status_lead"]]
    requests.post(base + "/move", json={"lead_id": 1000001, "status_id": 7100004}, timeout=5)
    assert requests.post(base + "/deliveries/wait", json={"timeout": 5}, timeout=10).json() == {"idle": True}
    attempts = requests.get(base + "/deliveries", timeout=5).json()["attempts"]
    assert [(a["attempt"], a["status_code"], a["lead_ids"]) for a in attempts] == [(1, 200, [1000001])]


def test_command_line_prints_ready_and_serves() -> None:
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sandbox.kommo", "--port", "0", "--token", "cli-token", "--speed", "10"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("ready http://127.0.0.1:")
        base = line.split(" ", 1)[1]
        lead = Api(base, "cli-token").get("/api/v4/leads/1000001").json()
        assert lead["id"] == 1000001 and lead["pipeline_id"] == 7000001
        assert Api(base, "wrong").get("/api/v4/leads/1000001").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=5)
