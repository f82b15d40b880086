"""Pre-dispute alerts: intake, refund-or-fight decision, outcome reports; ratio warnings and digests."""
