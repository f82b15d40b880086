"""The generic sandbox supplier: a signed JSON API that places, advances and ships orders."""
