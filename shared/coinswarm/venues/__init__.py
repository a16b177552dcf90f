"""Live venue clients: Coinbase Advanced Trade and Binance spot over HTTP, and a local fake exchange.

The clients are thin and typed: each call is one documented endpoint, its answer parsed into the
dataclasses of `models`, every failure raised as one of the errors of `errors`. What protects the
account sits between the call and the network, shared by both venues (`transport`): a token bucket
per venue set to the published limits (`ratelimit`), retries with backoff for temporary errors only
(`retry`), and a circuit breaker that stops new orders after repeated failures (`breaker`).

On top sit `coinswarm.adapters.live_broker` (the Broker port, live) and `adapters.venue_market` (the
MarketData port), over one small adapter per venue (`adapters.venue_orders`); `wiring.live` builds
them behind the live gate.
"""
