"""Merchant JSON API: every route authenticated by a Shopify session token."""
