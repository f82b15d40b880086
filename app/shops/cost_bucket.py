"""The store's Admin API cost bucket as every worker last saw it, shared through Redis.

Shopify refills one leaky bucket per shop and app, whichever of our processes calls. Each answer
carries the bucket's level (throttleStatus); it is written here, and before a call a client takes
the query's expected cost from the shared estimate, or learns how long to wait for it. So eight
workers syncing one shop pace themselves together instead of each assuming the bucket it saw last
is still all theirs. Only an estimate: a call that is throttled anyway waits and retries
(app/shops/admin_client.py).
"""

from __future__ import annotations

import time

from app.redis import get_redis, key

# Forgotten after an hour without calls: by then the bucket is full again.
_TTL_SECONDS = 3600

# KEYS[1] the shop's bucket; ARGV: cost, now, ttl. Returns "0" after taking the cost from the estimate,
# or the seconds until the estimate holds it (nothing taken). No estimate yet: go ahead.
_TAKE = """
local h = redis.call('HMGET', KEYS[1], 'available', 'rate', 'maximum', 'at')
if not h[1] then return '0' end
local available, rate, maximum, at = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4])
local cost, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local level = math.min(maximum, available + math.max(0, now - at) * rate)
if level >= cost then
  redis.call('HSET', KEYS[1], 'available', level - cost, 'at', now)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return '0'
end
return tostring((cost - level) / rate)
"""


def _key(shop_domain: str) -> str:
    return key("shopify", "cost-bucket", shop_domain)


def observe(shop_domain: str, *, available: float, restore_rate: float, maximum: float) -> None:
    """Record the level the store just reported (it is the truth as of now)."""
    if restore_rate <= 0:
        return
    bucket = _key(shop_domain)
    pipe = get_redis().pipeline()
    pipe.hset(bucket, mapping={"available": available, "rate": restore_rate, "maximum": maximum, "at": time.time()})
    pipe.expire(bucket, _TTL_SECONDS)
    pipe.execute()


def take(shop_domain: str, cost: float) -> float:
    """Take `cost` from the shared estimate; returns 0, or the seconds to wait before asking again."""
    return float(get_redis().eval(_TAKE, 1, _key(shop_domain), cost, time.time(), _TTL_SECONDS))


def forget(shop_domain: str) -> None:
    get_redis().delete(_key(shop_domain))
