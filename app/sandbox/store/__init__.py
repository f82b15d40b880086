"""The sandbox store: a Shopify emulator (REST-shaped webhooks, Admin GraphQL subset, control API)."""
