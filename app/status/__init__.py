"""Customer order-status pages, reached by a signed link or by order number and email."""
