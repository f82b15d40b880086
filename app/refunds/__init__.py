"""Refunds as first-class facts: every refund of an order, whoever made it, with its amount, lines and reason."""
