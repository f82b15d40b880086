"""Notifications: customer messages, at most one per stage per order, each one evidence."""
