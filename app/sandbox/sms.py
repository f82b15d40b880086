"""SMS provider emulator, shaped like Twilio's Messages API (2010-04-01).

POST /sandbox/sms/2010-04-01/Accounts/{AccountSid}/Messages.json (form: To, From, Body; HTTP basic
auth with the account SID and auth token) -> 201 message resource {"sid": "SM…", "status":
"queued", …}; errors as Twilio answers them: 401 {"code": 20003}, 400 {"code": 21211} for a To
that is not E.164, 400 {"code": 21602} for an empty body. GET …/Messages.json?To=&From= lists
(newest first), GET …/Messages/{sid}.json reads one.
Control (sandbox only): GET /sandbox/sms/_control/messages?to=, POST /sandbox/sms/_control/behaviour
{"fail_next": n} (answer 503 n times), POST /sandbox/sms/_control/reset.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse

from app.config import get_settings
from app.db import utcnow
from app.redis import get_redis, key

router = APIRouter(prefix="/sms")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_KEEP = 1000


def _messages_key(account: str) -> str:
    return key("sandbox", "sms", account, "messages")


def _behaviour_key() -> str:
    return key("sandbox", "sms", "fail_next")


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )


def _authorised(request: Request, account: str) -> bool:
    settings = get_settings()
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        secrets.compare_digest(user, settings.sms_account_sid)
        and secrets.compare_digest(password, settings.sms_auth_token)
        and user == account
    )


def _all(account: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in get_redis().lrange(_messages_key(account), 0, -1)]


@router.post("/2010-04-01/Accounts/{account}/Messages.json")
def create_message(
    account: str,
    request: Request,
    To: Annotated[str, Form()] = "",  # noqa: N803 - Twilio's parameter names
    From: Annotated[str, Form()] = "",  # noqa: N803
    Body: Annotated[str, Form()] = "",  # noqa: N803
) -> JSONResponse:
    if not _authorised(request, account):
        return _error(401, 20003, "Authenticate")
    redis = get_redis()
    if int(redis.get(_behaviour_key()) or 0) > 0:
        redis.decr(_behaviour_key())
        return _error(503, 20500, "Service unavailable")
    if not _E164.match(To):
        return _error(400, 21211, f"The 'To' number {To} is not a valid phone number.")
    if not Body.strip():
        return _error(400, 21602, "Message body is required.")
    now = utcnow().strftime("%a, %d %b %Y %H:%M:%S +0000")
    message = {
        "sid": "SM" + secrets.token_hex(16),
        "account_sid": account,
        "to": To,
        "from": From,
        "body": Body,
        "status": "queued",
        "num_segments": str(max(1, -(-len(Body) // 153))),
        "direction": "outbound-api",
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
        "error_code": None,
        "error_message": None,
        "api_version": "2010-04-01",
    }
    message["uri"] = f"/2010-04-01/Accounts/{account}/Messages/{message['sid']}.json"
    pipe = redis.pipeline()
    pipe.lpush(_messages_key(account), json.dumps(message))
    pipe.ltrim(_messages_key(account), 0, _KEEP - 1)
    pipe.execute()
    return JSONResponse(message, status_code=201)


@router.get("/2010-04-01/Accounts/{account}/Messages.json")
def list_messages(
    account: str, request: Request, To: str | None = None, From: str | None = None,  # noqa: N803
    PageSize: Annotated[int, Query(ge=1, le=1000)] = 50,  # noqa: N803
) -> JSONResponse:
    if not _authorised(request, account):
        return _error(401, 20003, "Authenticate")
    found = [m for m in _all(account) if (not To or m["to"] == To) and (not From or m["from"] == From)]
    return JSONResponse({"messages": found[:PageSize], "page": 0, "page_size": PageSize, "next_page_uri": None})


@router.get("/2010-04-01/Accounts/{account}/Messages/{sid}.json")
def get_message(account: str, sid: str, request: Request) -> JSONResponse:
    if not _authorised(request, account):
        return _error(401, 20003, "Authenticate")
    found = next((m for m in _all(account) if m["sid"] == sid), None)
    return JSONResponse(found) if found else _error(404, 20404, f"The requested resource {sid} was not found")


@router.get("/_control/messages")
def control_messages(to: str | None = None) -> dict[str, Any]:
    found = [m for m in _all(get_settings().sms_account_sid) if not to or m["to"] == to]
    return {"messages": list(reversed(found)), "count": len(found)}


@router.post("/_control/behaviour")
def control_behaviour(body: dict[str, Any]) -> dict[str, Any]:
    fail_next = int(body.get("fail_next") or 0)
    get_redis().set(_behaviour_key(), max(0, fail_next))
    return {"fail_next": fail_next}


@router.post("/_control/reset")
def control_reset() -> dict[str, Any]:
    get_redis().delete(_messages_key(get_settings().sms_account_sid), _behaviour_key())
    return {"reset": True}
