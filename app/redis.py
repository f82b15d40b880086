"""One Redis client per process, and the deployment's key prefix."""

from __future__ import annotations

from functools import lru_cache

import redis

from app.config import get_settings


@lru_cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=10, health_check_interval=30)


def key(*parts: str) -> str:
    return get_settings().redis_prefix + ":".join(parts)


def reset_redis() -> None:
    if get_redis.cache_info().currsize:
        get_redis().close()
    get_redis.cache_clear()
