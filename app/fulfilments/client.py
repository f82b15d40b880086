"""The store's Admin GraphQL API (protocols B), with errors sorted into retry-later and refused."""

from __future__ import annotations

from typing import Any

import httpx

from app.external_calls import Call
from app.shops.admin_client import AdminClient, AdminError, AdminTemporaryError, root_field

ORDER_QUERY = """
query($id: ID!) {
  order(id: $id) {
    id
    name
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 50) { nodes { id remainingQuantity totalQuantity lineItem { id } } } }
    }
    fulfillments(first: 20) { id status trackingInfo { company number url } }
  }
}
"""

FULFILLMENT_CREATE = """
mutation($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""


class StoreError(Exception):
    """The store refused the request (bad token, unknown order, invalid query)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreTemporaryError(StoreError):
    """Timeout, transport error, 5xx, 429 or THROTTLED: the same request may work later."""


class StoreClient:
    """The fulfilment push's view of app.shops.admin_client.AdminClient.

    No retries inside: the push task retries through Celery within its attempt budget and reads
    the order's fulfilments before every push, so a lost answer is adopted, never repeated.
    Mutations are recorded in the ledger by the Admin client; userErrors are left to the caller.
    """

    def __init__(self, *, shop_domain: str, access_token: str, transport: httpx.BaseTransport | None = None):
        self._admin = AdminClient(shop_domain=shop_domain, access_token=access_token, transport=transport,
                                  retries=0, throttle_retries=0)
        self.calls: list[Call] = self._admin.calls

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._admin.close()

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            if query.lstrip().startswith("mutation"):
                payload = self._admin.mutate(query, variables, raise_user_errors=False)
                return {self._root(query): payload}
            return self._admin.query(query, variables)
        except AdminTemporaryError as error:
            raise StoreTemporaryError(error.message) from None
        except AdminError as error:
            raise StoreError(error.message) from None

    @staticmethod
    def _root(query: str) -> str:
        return root_field(query)[1].name.value
