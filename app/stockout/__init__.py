"""Customer choice on stock-out."""
