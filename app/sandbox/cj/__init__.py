"""Sandbox CJdropshipping API v2 with signed ORDER/LOGISTIC webhooks, state in Redis.

Like the real service: tokens from POST /authentication/getAccessToken (about one call per 5 minutes
per API key, else HTTP 429 / 1600200), header CJ-Access-Token on every other call (bad or expired:
1600001), a repeated orderNumber refused (1603000 "...already exists"), getOrderDetail by CJ id or
by our orderNumber, deleteOrder only before shipment. Lifecycle changes made through the control
endpoints are pushed as webhooks signed the CJ way (header `sign` = Base64 HMAC-SHA256 of the raw
body keyed with the account's openId) to the URLs set with POST /webhook/set, or by default to
settings.public_base + "/webhooks/suppliers/cj". Failed deliveries are kept and re-sent by
POST /_control/webhooks/redeliver (CJ itself retries after 5 minutes, 3 times at most).
"""

from app.sandbox.cj.routes import create_router
from app.sandbox.cj.state import SANDBOX_API_KEY, SANDBOX_OPEN_ID, reset

router = create_router()

__all__ = ["SANDBOX_API_KEY", "SANDBOX_OPEN_ID", "create_router", "reset", "router"]
