"""Sandbox AliExpress IOP gateway (/sync DS calls, /rest/auth/token/refresh), state in Redis.

It checks requests the way the gateway does (app key, 7,200 s timestamp window, sha256 signature
with the API path prepended only for /rest calls, access token) and answers with the gateway's
envelopes. Deliberate realism:
- A repeated `out_order_id` creates another order: AliExpress treats it as a reference, not an
  idempotency key, and has no lookup by it. `lose_response_next` reproduces the dangerous case
  (the order exists, the caller saw a 504).
- Items from different sellers split into one AliExpress order per seller.
- No webhooks: callers poll trade.ds.order.get and ds.order.tracking.get.
Control endpoints (under /_control) drive the lifecycle and the failure knobs.
"""

from app.sandbox.aliexpress.routes import router
from app.sandbox.aliexpress.state import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_KEY,
    SANDBOX_APP_SECRET,
    SANDBOX_REFRESH_TOKEN,
    reset,
)

__all__ = ["SANDBOX_ACCESS_TOKEN", "SANDBOX_APP_KEY", "SANDBOX_APP_SECRET", "SANDBOX_REFRESH_TOKEN", "reset", "router"]
