"""Disputes in the store emulator: a chargeback or inquiry opened on an order (control API), the
`dispute(id:)` query (ShopifyPaymentsDispute, day-precision dates as on Shopify), the merchant's
evidence through `disputeEvidenceUpdate` (with Shopify's user errors), and the disputes/update
webhooks sent when evidence is submitted and when the bank decides.

Deadlines are realistic: the cut-off is 19:00 in the store's zone (Shopify's REST sample
`2013-07-03T19:00:00-04:00`), a network-dependent number of days after the dispute opens,
already shorter than the network's own window because Shopify needs time to forward it.
Every disputeEvidenceUpdate is counted per dispute, so a test can prove one submission.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from graphql import GraphQLError, GraphQLResolveInfo

from app.db import utcnow
from app.redis import get_redis
from app.sandbox import delivery
from app.sandbox.store import fulfil, orders, refunds, state, webhooks
from app.sandbox.store.control import ControlError, _mutate

SDL = """
scalar Date
enum ShopifyPaymentsDisputeReason {
  BANK_CANNOT_PROCESS CREDIT_NOT_PROCESSED CUSTOMER_INITIATED DEBIT_NOT_AUTHORIZED DUPLICATE FRAUDULENT GENERAL
  INCORRECT_ACCOUNT_DETAILS INSUFFICIENT_FUNDS NONCOMPLIANT PRODUCT_NOT_RECEIVED PRODUCT_UNACCEPTABLE
  SUBSCRIPTION_CANCELLED UNRECOGNIZED
}
enum DisputeEvidenceUpdateUserErrorCode {
  DISPUTE_EVIDENCE_NOT_FOUND EVIDENCE_ALREADY_ACCEPTED EVIDENCE_PAST_DUE_DATE FILE_NOT_FOUND
  FILES_SIZE_EXCEEDED_LIMIT INVALID TOO_LARGE
}
type ShopifyPaymentsDisputeReasonDetails { reason: ShopifyPaymentsDisputeReason! networkReasonCode: String }
type ShopifyPaymentsDisputeEvidence {
  id: ID! submitted: Boolean! disputeFileUploads: [ShopifyPaymentsDisputeFileUpload!]!
  uncategorizedText: String accessActivityLog: String
  refundPolicyDisclosure: String cancellationRebuttal: String refundRefusalExplanation: String
  customerEmailAddress: String customerFirstName: String customerLastName: String
}
type ShopifyPaymentsDispute {
  id: ID! legacyResourceId: UnsignedInt64! type: DisputeType! status: DisputeStatus! amount: MoneyV2!
  evidenceDueBy: Date evidenceSentOn: Date finalizedOn: Date initiatedAt: DateTime!
  reasonDetails: ShopifyPaymentsDisputeReasonDetails! order: Order disputeEvidence: ShopifyPaymentsDisputeEvidence!
}
enum ShopifyPaymentsDisputeEvidenceFileType {
  CANCELLATION_POLICY_FILE CUSTOMER_COMMUNICATION_FILE REFUND_POLICY_FILE RESPONSE_SUMMARY_FILE
  SERVICE_DOCUMENTATION_FILE SHIPPING_DOCUMENTATION_FILE UNCATEGORIZED_FILE
}
input ShopifyPaymentsUploadedDisputeFile {
  disputeEvidenceFileType: ShopifyPaymentsDisputeEvidenceFileType originalFileName: String! originalSource: String!
}
type ShopifyPaymentsDisputeFileUpload {
  id: ID! disputeEvidenceType: ShopifyPaymentsDisputeEvidenceFileType fileSize: Int! fileType: String!
  originalFileName: String url: URL!
}
input ShopifyPaymentsDisputeEvidenceUpdateInput {
  uncategorizedText: String accessActivityLog: String refundPolicyDisclosure: String cancellationRebuttal: String
  cancellationPolicyDisclosure: String refundRefusalExplanation: String customerEmailAddress: String
  customerFirstName: String customerLastName: String submitEvidence: Boolean
  uploadedFiles: [ShopifyPaymentsUploadedDisputeFile!]
}
enum StagedUploadTargetGenerateUploadResource { DISPUTE_FILE_UPLOAD FILE IMAGE }
enum StagedUploadHttpMethodType { POST PUT }
input StagedUploadInput {
  filename: String! mimeType: String! resource: StagedUploadTargetGenerateUploadResource! fileSize: UnsignedInt64
  httpMethod: StagedUploadHttpMethodType
}
type StagedUploadParameter { name: String! value: String! }
type StagedMediaUploadTarget { url: URL resourceUrl: URL parameters: [StagedUploadParameter!]! }
type StagedUploadsCreatePayload { stagedTargets: [StagedMediaUploadTarget!] userErrors: [UserError!]! }
type DisputeEvidenceUpdateUserError { field: [String!] message: String! code: DisputeEvidenceUpdateUserErrorCode }
type DisputeEvidenceUpdatePayload {
  disputeEvidence: ShopifyPaymentsDisputeEvidence userErrors: [DisputeEvidenceUpdateUserError!]!
}
extend type QueryRoot { dispute(id: ID!): ShopifyPaymentsDispute }
extend type Mutation {
  stagedUploadsCreate(input: [StagedUploadInput!]!): StagedUploadsCreatePayload
  disputeEvidenceUpdate(id: ID!, input: ShopifyPaymentsDisputeEvidenceUpdateInput!): DisputeEvidenceUpdatePayload
}
"""

STATUSES = ("needs_response", "under_review", "charge_refunded", "accepted", "won", "lost", "prevented")
DECISIONS = ("won", "lost", "accepted", "charge_refunded", "prevented")
# The network code a reason is usually filed under (Visa), when the control call names none.
_DEFAULT_CODES = {"product_not_received": "13.1", "product_unacceptable": "13.3", "fraudulent": "10.4",
                  "credit_not_processed": "13.6", "subscription_canceled": "13.7", "unrecognized": "10.4",
                  "general": "13.5", "duplicate": "12.6"}
# Days the merchant gets from Shopify, by network (Visa 30, Mastercard 45, Amex 20 at network level).
_DAYS = {"visa": 20, "mastercard": 35, "amex": 13, "discover": 20}
STORE_ZONE = ZoneInfo("America/New_York")
_TEXT_FIELDS = ("uncategorizedText", "accessActivityLog", "refundPolicyDisclosure", "cancellationRebuttal",
                "cancellationPolicyDisclosure", "refundRefusalExplanation", "customerEmailAddress",
                "customerFirstName", "customerLastName")
# Shopify: all text fields together must stay readable; Stripe caps them at 150,000 characters.
TEXT_LIMIT = 150_000
# Shopify's evidence files: PDF, JPEG or PNG, each under 2 MB, all under 4 MB (facts §1.1).
FILE_LIMIT, FILES_LIMIT = 2 * 1024 * 1024, 4 * 1024 * 1024
FILE_TYPES = ("application/pdf", "image/jpeg", "image/png")
# Only `unstable` takes uploadedFiles (the stable versions' page says the type is not supported).
UPLOAD_VERSIONS = ("unstable",)


def _network(code: str) -> str:
    if code.startswith(("10.", "11.", "12.", "13.")):
        return "visa"
    if code.isdigit() and code.startswith("48"):
        return "mastercard"
    if code[:1] in ("C", "F", "P", "R") and not code.startswith("RG"):
        return "amex"
    return "discover"


def due_by(opened: datetime, code: str, days: int | None = None) -> datetime:
    local = opened.astimezone(STORE_ZONE).date() + timedelta(days=days if days is not None else _DAYS[_network(code)])
    return datetime.combine(local, time(19, 0), tzinfo=STORE_ZONE)


def _index_key(dispute_id: int) -> str:
    return state.k("dispute", str(dispute_id))


def _count_key(dispute_id: int) -> str:
    return state.k("dispute", str(dispute_id), "evidence_updates")


def _rest(d: dict[str, Any]) -> dict[str, Any]:
    """The REST/webhook shape of one dispute."""
    return {key: d[key] for key in ("id", "order_id", "type", "amount", "currency", "reason", "network_reason_code",
                                    "status", "evidence_due_by", "evidence_sent_on", "finalized_on", "initiated_at")}


def open_dispute(order_id: int, kind: str, status: str, reason: str, *, network_reason_code: str | None = None,
                 amount: str | None = None, due_in_days: int | None = None) -> tuple[dict, list[delivery.Delivery]]:
    dispute_id = next(state.next_ids(1))
    created: dict[str, Any] = {}

    def change(document: dict[str, Any]) -> None:
        order = document["order"]
        opened = utcnow()
        code = network_reason_code or _DEFAULT_CODES.get(reason, "13.5")
        created.clear()
        created.update(
            id=dispute_id, order_id=order["id"], type=kind, amount=amount or order["total_price"],
            currency=order["currency"], reason=reason, network_reason_code=code, status=status,
            evidence_due_by=orders.timestamp(due_by(opened, code, due_in_days)) if status == "needs_response" else None,
            evidence_sent_on=None, finalized_on=None, initiated_at=orders.timestamp(opened),
            evidence={"submitted": False, "files": [], **{name: None for name in _TEXT_FIELDS}},
        )
        document.setdefault("disputes", []).append(created)

    document, shop = _mutate(order_id, change)
    get_redis().set(_index_key(dispute_id), order_id, ex=state.ORDER_TTL)
    return document, [webhooks.webhook(shop, "disputes/create", _rest(created))]


def _find(dispute_id: int) -> tuple[int, dict[str, Any]] | None:
    order_id = get_redis().get(_index_key(dispute_id))
    document = state.get_order(int(order_id)) if order_id else None
    for d in (document or {}).get("disputes") or []:
        if d["id"] == dispute_id:
            return int(order_id), d
    return None


def _change(dispute_id: int, change) -> tuple[dict, dict, dict]:
    found = _find(dispute_id)
    if found is None:
        raise ControlError(404, f"no dispute {dispute_id}")
    holder: dict[str, Any] = {}

    def apply(document: dict[str, Any]) -> None:
        target = next(d for d in document["disputes"] if d["id"] == dispute_id)
        holder["result"] = change(target)
        holder["dispute"] = dict(target)

    document, shop = _mutate(found[0], apply)
    return document, shop, holder


def decide(dispute_id: int, status: str) -> tuple[dict, list[delivery.Delivery]]:
    """The bank decides (or the merchant accepts): disputes/update with finalized_on."""
    def change(d: dict[str, Any]) -> None:
        if d["status"] in DECISIONS:
            raise ControlError(409, f"dispute is already {d['status']}")
        d.update(status=status, finalized_on=orders.timestamp(utcnow()))

    document, shop, holder = _change(dispute_id, change)
    return document, [webhooks.webhook(shop, "disputes/update", _rest(holder["dispute"]))]


def control_view(dispute_id: int) -> dict[str, Any]:
    found = _find(dispute_id)
    if found is None:
        raise ControlError(404, f"no dispute {dispute_id}")
    return {**found[1], "evidence_updates": int(get_redis().get(_count_key(dispute_id)) or 0)}


# -- GraphQL ----------------------------------------------------------------------------------------


def _date(stamp: str | None) -> str | None:
    """GraphQL's Date: the day in the store's zone (a Date scalar carries no time)."""
    return datetime.fromisoformat(stamp).astimezone(STORE_ZONE).date().isoformat() if stamp else None


def _evidence_view(d: dict[str, Any]) -> dict[str, Any]:
    evidence = {k: v for k, v in d["evidence"].items() if k != "files"}
    return {"id": orders.gid("ShopifyPaymentsDisputeEvidence", d["id"]), **evidence,
            "disputeFileUploads": [dict(f) for f in d["evidence"].get("files") or []]}


def _staged_key(token: str) -> str:
    return state.k("staged", token)


def _resolve_staged(info: GraphQLResolveInfo, input: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: A002
    from app.config import get_settings

    targets, errors = [], []
    for index, item in enumerate(input):
        if item["mimeType"] not in FILE_TYPES and item["resource"] == "DISPUTE_FILE_UPLOAD":
            errors.append({"field": ["input", str(index), "mimeType"], "message": "Dispute files must be PDF, JPEG or PNG"})
            continue
        token = uuid.uuid4().hex
        url = f"{get_settings().public_base}/sandbox/shopify/_staged/{token}"
        get_redis().set(_staged_key(token), json.dumps({"shop": info.context["shop"]["domain"], "size": None,
                                                        "name": item["filename"], "type": item["mimeType"]}),
                        ex=state.ORDER_TTL)
        targets.append({"url": url, "resourceUrl": url, "parameters": []})
    return {"stagedTargets": targets, "userErrors": errors}


def receive_upload(token: str, body: bytes) -> bool:
    raw = get_redis().get(_staged_key(token))
    if raw is None:
        return False
    record = json.loads(raw)
    record["size"] = len(body)
    get_redis().set(_staged_key(token), json.dumps(record), ex=state.ORDER_TTL)
    return True


def _files(info: GraphQLResolveInfo, uploaded: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict]]:
    """The staged files uploadedFiles names, or Shopify's user errors for them."""
    if info.context.get("api_version") not in UPLOAD_VERSIONS:
        return [], [_error("INVALID", f"uploadedFiles is not supported in API version {info.context.get('api_version')}",
                           ["input", "uploadedFiles"])]
    files, total = [], 0
    for item in uploaded:
        token = str(item["originalSource"]).rstrip("/").rsplit("/", 1)[-1]
        raw = get_redis().get(_staged_key(token))
        record = json.loads(raw) if raw else None
        if record is None or record["size"] is None or record["shop"] != info.context["shop"]["domain"]:
            return [], [_error("FILE_NOT_FOUND", "The file upload failed, retry", ["input", "uploadedFiles"])]
        if record["size"] > FILE_LIMIT:
            return [], [_error("TOO_LARGE", f"{item['originalFileName']} is larger than 2 MB")]
        total += record["size"]
        files.append({"id": orders.gid("ShopifyPaymentsDisputeFileUpload", next(state.next_ids(1))),
                      "disputeEvidenceType": item.get("disputeEvidenceFileType") or "UNCATEGORIZED_FILE",
                      "fileSize": record["size"], "fileType": record["type"],
                      "originalFileName": item["originalFileName"], "url": item["originalSource"]})
    if total > FILES_LIMIT:
        return [], [_error("FILES_SIZE_EXCEEDED_LIMIT", "The files together are larger than 4 MB")]
    return files, []


def _view(document: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    from app.sandbox.store.schema import _order  # schema imports this module

    return {
        "id": orders.gid("ShopifyPaymentsDispute", d["id"]), "legacyResourceId": str(d["id"]),
        "type": d["type"].upper(), "status": d["status"].upper(),
        "amount": {"amount": d["amount"], "currencyCode": d["currency"]},
        "evidenceDueBy": _date(d["evidence_due_by"]), "evidenceSentOn": _date(d["evidence_sent_on"]),
        "finalizedOn": _date(d["finalized_on"]), "initiatedAt": d["initiated_at"],
        "reasonDetails": {"reason": "SUBSCRIPTION_CANCELLED" if d["reason"] == "subscription_canceled"
                          else d["reason"].upper(), "networkReasonCode": d["network_reason_code"]},
        "order": lambda info: _order(document),
        "disputeEvidence": _evidence_view(d),
    }


def _resolve_dispute(info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:  # noqa: A002
    number = fulfil.parse_gid(id, "ShopifyPaymentsDispute")
    if number is None:
        raise GraphQLError(f"Invalid global id '{id}'")
    found = _find(number)
    document = state.get_order(found[0]) if found else None
    if not document or document["shop"] != info.context["shop"]["domain"]:
        return None
    return _view(document, found[1])


def _error(code: str, message: str, field: list[str] | None = None) -> dict[str, Any]:
    return {"field": field or ["input"], "message": message, "code": code}


def _resolve_evidence_update(info: GraphQLResolveInfo, id: str, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    number = fulfil.parse_gid(id, "ShopifyPaymentsDisputeEvidence")
    found = _find(number) if number is not None else None
    document = state.get_order(found[0]) if found else None
    if not document or document["shop"] != info.context["shop"]["domain"]:
        return {"disputeEvidence": None, "userErrors": [_error("DISPUTE_EVIDENCE_NOT_FOUND", "Dispute evidence not found",
                                                               ["id"])]}
    get_redis().incr(_count_key(number))
    sent: list[delivery.Delivery] = []
    errors: list[dict[str, Any]] = []
    files, file_errors = _files(info, input["uploadedFiles"]) if input.get("uploadedFiles") else ([], [])
    if file_errors:
        return {"disputeEvidence": None, "userErrors": file_errors}

    def change(d: dict[str, Any]) -> None:
        errors.clear()
        if d["evidence"]["submitted"]:
            errors.append(_error("EVIDENCE_ALREADY_ACCEPTED", "Evidence has already been submitted"))
            return
        due = d["evidence_due_by"]
        if due and datetime.fromisoformat(due) < utcnow():
            errors.append(_error("EVIDENCE_PAST_DUE_DATE", "The evidence due date has passed"))
            return
        texts = {name: input[name] for name in _TEXT_FIELDS if input.get(name) is not None}
        if sum(len(str(v)) for v in texts.values()) > TEXT_LIMIT:
            errors.append(_error("TOO_LARGE", "Evidence text is too large"))
            return
        d["evidence"].update(texts)
        d["evidence"]["files"] = [*(d["evidence"].get("files") or []), *files]
        if input.get("submitEvidence"):
            d["evidence"]["submitted"] = True
            d.update(status="under_review", evidence_sent_on=orders.timestamp(utcnow()))

    document, shop, holder = _change(number, change)
    d = holder["dispute"]
    if input.get("submitEvidence") and not errors:
        sent.append(webhooks.webhook(shop, "disputes/update", _rest(d)))
        info.context["deliveries"].extend(sent)
        # The shop's "hang_next" behaviour holds this answer back too (a lost answer, for crash tests).
        info.context["hold_seconds"] = refunds.take_hang(shop["domain"])
    return {"disputeEvidence": None if errors else _evidence_view(d), "userErrors": list(errors)}


ROOT = {"dispute": _resolve_dispute, "disputeEvidenceUpdate": _resolve_evidence_update,
        "stagedUploadsCreate": _resolve_staged}

