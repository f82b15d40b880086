"""The authenticated shop of a merchant page, from the Shopify session token only.

Pages take `shop: MerchantShop` (navigations carry the token as ?id_token=); form posts take
`post: MerchantPost` (the token in the form's hidden id_token field or an Authorization header,
never the query string, and cross-site posts refused first). Without a valid token the page answers
itself with "open Dropguard from your store admin" (app/web/errors.py), so no page repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from app.db import SessionDep
from app.errors import Unauthorized
from app.shops.auth import current_shop
from app.shops.models import Shop
from app.web import forms


class PageUnauthorized(Exception):
    """No valid session token for a merchant page; rendered as the reopen-from-the-admin page."""

    def __init__(self, message: str, *, reopen: bool) -> None:
        super().__init__(message)
        self.message = message
        # Only a navigation (not a form post) offers the reopen link built from the ?shop= hint.
        self.reopen = reopen


def page_shop(request: Request, session: SessionDep) -> Shop:
    try:
        shop = current_shop(request, session)
    except Unauthorized as error:
        raise PageUnauthorized(error.message, reopen=True) from None
    request.state.shop = shop
    return shop


MerchantShop = Annotated[Shop, Depends(page_shop)]


@dataclass(frozen=True)
class Post:
    shop: Shop
    # The session token the form carried: redirects and re-rendered pages keep the merchant signed in.
    token: str


def merchant_post(request: Request, session: SessionDep,
                  id_token: Annotated[str, Form(max_length=4096)] = "") -> Post:
    forms.check_same_origin(request)
    try:
        shop = forms.shop_for_post(request, session, id_token)
    except Unauthorized as error:
        raise PageUnauthorized(error.message, reopen=False) from None
    request.state.shop = shop
    return Post(shop=shop, token=id_token)


MerchantPost = Annotated[Post, Depends(merchant_post)]
