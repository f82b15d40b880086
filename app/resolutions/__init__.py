"""Resolution centre: a customer reports a problem on the status page; the shop's policy decides."""
