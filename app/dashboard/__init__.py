"""Merchant dashboard pages, embedded in the store admin."""
