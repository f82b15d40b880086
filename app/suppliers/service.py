from sqlalchemy.orm import Session

from app.orders.models import Order


def plan_for_order(session: Session, order: Order) -> None:
    raise NotImplementedError


def cancel_for_order(session: Session, order: Order) -> None:
    raise NotImplementedError
