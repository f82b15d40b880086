"""Evidence: the append-only, hash-chained ledger. The only writer of evidence events."""
