"""order_placement: risk, then exactly one order per intent."""
