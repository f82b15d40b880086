"""Dropguard: fewer refunds and chargebacks for dropshippers, with proof of everything."""
