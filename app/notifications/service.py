from sqlalchemy.orm import Session

from app.orders.models import Order


def schedule(session: Session, order: Order, *, stage: str) -> None:
    raise NotImplementedError
