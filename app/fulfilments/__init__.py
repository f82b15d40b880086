"""Fulfilments: shipments with tracking, pushed to the store exactly once."""
