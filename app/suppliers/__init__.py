"""Suppliers: placing supplier orders exactly once and following them until they ship."""
