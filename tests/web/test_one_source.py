"""Each list that several parts of the app must agree on has one source, and every part reads it:
webhook topics, notification stages, supplier protocols and their capabilities, evidence kinds."""

from __future__ import annotations

import ast
from pathlib import Path

from app.evidence import kinds
from app.notifications import stages
from app.status import timeline
from app.suppliers import adapters
from app.webhooks import processing, topics

APP = Path(__file__).resolve().parents[2] / "app"


def _string_sets(module_path: Path) -> list[set[str]]:
    """Literal collections of strings in a module: where a copied list would hide."""
    tree = ast.parse(module_path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 3:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == len(node.elts):
                found.append(set(values))
    return found


def _copies(values: set[str], *, allowed: set[Path]) -> list[str]:
    copies = []
    for path in APP.rglob("*.py"):
        if path in allowed or "sandbox" in path.parts:
            continue
        for literal in _string_sets(path):
            # A copy is a list made mostly of these names (other lists may share a word or two:
            # "delivered" is also a scorecard measure).
            shared = literal & values
            if len(shared) >= 3 and len(shared) * 2 >= len(literal):
                copies.append(f"{path.relative_to(APP.parent)}: {sorted(literal & values)}")
    return copies


def test_webhook_topics_have_one_table_that_every_reader_uses():
    assert topics.PROCESSED <= topics.METRIC_LABELS
    assert topics.COMPLIANCE <= topics.PROCESSED
    assert not set(topics.SUBSCRIBED) & topics.COMPLIANCE  # declared in the app config, never subscribed
    for name in topics.PROCESSED:
        assert callable(processing.handler_for(name)), name
    assert processing.handler_for("products/update") is None
    assert _copies(set(topics.BY_NAME), allowed={APP / "webhooks" / "topics.py"}) == []


def test_notification_stages_have_one_list_that_the_status_timeline_uses():
    # The status page's progress stops (app/status/journey.py) share four words with the stages but
    # are their own list: "in transit" has no message, "confirmed", "delayed" and "exception" no stop.
    copies = _copies(set(stages.STAGES), allowed={APP / "notifications" / "stages.py", APP / "status" / "journey.py"})
    assert copies == []
    assert timeline.STAGES is stages.STAGES


def test_supplier_protocols_and_capabilities_have_one_registry():
    for name, protocol in adapters.PROTOCOLS.items():
        assert protocol.adapter.protocol == name
        for flag in ("finds_by_reference", "dedupes_reference", "has_order_webhooks", "polls_stock"):
            assert isinstance(getattr(protocol.adapter, flag), bool), (name, flag)
    assert _copies(set(adapters.PROTOCOLS), allowed={APP / "suppliers" / "adapters" / "__init__.py"}) == []
    from app.inventory import polling

    assert set(polling.POLLED) == {n for n, p in adapters.PROTOCOLS.items() if p.adapter.polls_stock}


def test_every_kind_the_customer_timeline_shows_is_customer_visible_in_the_catalogue():
    classified = set()
    for name in kinds.KINDS:
        if timeline._classify(name, {"changes": ["created", "paid", "cancelled"]}):
            classified.add(name)
    hidden = {name for name in classified if not kinds.KINDS[name].customer_visible}
    assert hidden == set()


def test_catalogue_names_its_domain_and_stage_and_flags_unknown_kinds():
    assert kinds.get("webhook.received").domain == "webhooks"
    assert {kind.stage for kind in kinds.KINDS.values()} <= set(kinds.STAGES)
    assert kinds.unknown({"webhook.received", "test.anything", "nobody.knows"}) == {"nobody.knows"}
