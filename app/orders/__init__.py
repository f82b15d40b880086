"""Orders: the store's orders and their customers, converged from out-of-order webhooks."""
