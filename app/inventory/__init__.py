"""Inventory and cost sync: supplier stock to the store's available quantities, margins."""
