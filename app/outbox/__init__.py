"""Outbox: work for the workers, written in the same transaction as the facts it follows."""
