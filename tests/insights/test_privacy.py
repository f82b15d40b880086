"""The customer's messages to the shop follow the privacy duties: exported with a data request,
their words gone with a customers/redact (the classification stays), the ledger still intact."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import get_sessionmaker
from app.evidence.service import verify_chain
from app.insights import messages
from app.insights.models import CustomerMessage
from app.privacy.models import PrivacyRequest
from app.shops.models import Shop
from tests.privacy.helpers import (
    data_request_payload,
    deliver,
    new_person,
    redact_payload,
    spread,
    strings_present,
)


def _write(shop, order, text: str) -> int:
    with get_sessionmaker()() as session:
        message = messages.record(session, session.get(Shop, shop.id), source="contact_form", source_ref="p1",
                                  body=text, order_id=order.id, evidence_kind="status.contact_message",
                                  personal={"ip": "203.0.113.9", "user_agent": "phone"})
        session.commit()
        messages.classify_stored(session, message.id)
        session.commit()
        return message.id


def test_messages_are_exported_and_their_words_redacted(db, shop):
    person = new_person()
    order = spread(db, shop, person)
    words = f"Hi, {person.first_name} here, nothing arrived at {person.address1}. Where is my parcel?"
    message_id = _write(shop, order, words)

    deliver(shop, "customers/data_request", data_request_payload(shop, person))
    request = db.scalars(select(PrivacyRequest).where(PrivacyRequest.shop_id == shop.id,
                                                      PrivacyRequest.kind == "customer_data_request")).one()
    [exported] = request.export["orders"]
    assert exported["messages"][0]["text"] == words and exported["messages"][0]["source"] == "contact_form"
    assert words in json.dumps(request.export)

    assert deliver(shop, "customers/redact", redact_payload(shop, person))[1] == "processed"
    assert strings_present(person.strings) == []
    with get_sessionmaker()() as session:
        kept = session.get(CustomerMessage, message_id)
        assert kept.body is None and kept.reason is not None and kept.language == "en"
    assert verify_chain(db, shop.domain).intact
