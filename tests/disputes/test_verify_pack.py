"""The verifiable export: checked offline by `dropguard ledger verify-pack` (no database), and
refused when any one byte of it changes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

from sqlalchemy import select

from app.disputes import export
from app.disputes.models import Dispute
from app.paths import ROOT
from tests.disputes.scenario import DELIVERED, delivered_with_partial_refund


def _cli(path) -> subprocess.CompletedProcess:
    # No database, no Redis: the check needs the file alone.
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp"),
           "DROPGUARD_DATABASE_URL": "postgresql+psycopg://nobody@192.0.2.1:1/none"}
    return subprocess.run([sys.executable, "-m", "app.cli", "ledger", "verify-pack", str(path)], env=env,
                          capture_output=True, text=True, timeout=60, cwd="/tmp")


def test_export_verifies_offline_and_one_changed_byte_is_refused(db, shop, client, post_webhook, auth_headers,
                                                                 tmp_path):
    order, shipment, payload = delivered_with_partial_refund(db, shop, client, post_webhook)
    dispute_id = db.scalar(select(Dispute.id).where(Dispute.external_id == str(payload["id"])))
    response = client.get(f"/api/disputes/{dispute_id}/evidence-export.json", headers=auth_headers(shop.domain))
    assert response.status_code == 200
    raw = response.content
    document = json.loads(raw)
    kinds = [e["kind"] for e in document["events"]]
    assert kinds.count("tracking.scan") == len(DELIVERED) and "dispute.opened" in kinds and "refund.recorded" in kinds
    assert {e["personal"]["location"] for e in document["events"] if e["kind"] == "tracking.scan"} >= {"Chicago, US"}
    verdict = export.verify(raw)
    assert verdict.ok and verdict.events == len(document["events"]), verdict.reason

    good = tmp_path / "pack.json"
    good.write_bytes(raw)
    result = _cli(good)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {verdict.events} events and {verdict.links} links verified")

    # One place in a carrier scan changed: refused, by the CLI too.
    tampered = raw.replace(b"Chicago, US", b"Chicago, UT", 1)
    assert tampered != raw and not export.verify(tampered).ok
    bad = tmp_path / "tampered.json"
    bad.write_bytes(tampered)
    result = _cli(bad)
    assert result.returncode == 1 and result.stderr.startswith("REFUSED:")

    # A member renamed (here the scan's personal part, which would then go unchecked): refused.
    renamed = raw.replace(b'"personal":{', b'"qersonal":{', 1)
    assert renamed != raw and not export.verify(renamed).ok

    # Any single byte, anywhere: refused (every byte of the first scan event, 300 others at random).
    rng = random.Random(14)
    scan = raw.index(b'"personal":{')
    around = range(max(0, scan - 600), min(len(raw), scan + 600))
    for position in [*around, *rng.sample(range(len(raw)), 300)]:
        changed = bytearray(raw)
        changed[position] = (changed[position] + rng.randint(1, 255)) % 256
        assert not export.verify(bytes(changed)).ok, (position, raw[max(0, position - 20):position + 20])
    assert not export.verify(b"").ok and not export.verify(b"[]").ok
