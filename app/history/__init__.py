"""History import: a shop's past orders, refunds, fulfilments and disputes from the Admin API."""
