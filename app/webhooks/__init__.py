"""Webhooks: verify, record, acknowledge; then process from the inbox in a worker."""
