"""Shops: the tenants, their settings and credentials, and merchant authentication."""
