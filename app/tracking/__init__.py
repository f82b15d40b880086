"""Tracking: carriers, tracking numbers, normalised statuses, delay detection."""
