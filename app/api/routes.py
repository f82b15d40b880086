from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.db import SessionDep
from app.errors import NotFound
from app.evidence import service as evidence
from app.orders import service as orders
from app.orders.schemas import OrderRead, OrderWithTimeline, TimelineEvent
from app.risk import service as risk
from app.shops.auth import CurrentShop

router = APIRouter(prefix="/api")


@router.get("/orders", response_model=OrderWithTimeline)
def get_order(
    shop: CurrentShop, session: SessionDep, name: Annotated[str, Query(min_length=1, max_length=64)]
) -> OrderWithTimeline:
    """One of the shop's orders by its name (e.g. #1042), with its evidence timeline and its risk."""
    order = orders.find_by_name(session, shop.id, name)
    if order is None:
        raise NotFound(f"no order named {name}")
    timeline = [TimelineEvent.model_validate(e) for e in evidence.for_order(session, shop_id=shop.id, order_id=order.id)]
    score = risk.current(session, shop.id, order.id)
    return OrderWithTimeline(**OrderRead.model_validate(order).model_dump(), timeline=timeline,
                             risk=risk.view(score, shop.locale or "en") if score else None)
