"""manual_trade: the authenticated HTTP endpoint to trade by hand, or run a cycle now."""
