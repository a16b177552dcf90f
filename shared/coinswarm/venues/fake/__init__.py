"""A local fake exchange: a real HTTP server on loopback speaking the subset of Coinbase Advanced Trade
and Binance spot that the venue clients use, in the venues' recorded shapes, with fault injection.

It lives in the package, not under tests/, because it is useful beyond the unit tests: end-to-end
tests in any folder start it, and a user can rehearse live mode against it (keys it was given,
no money) before pointing the configuration at a real venue.

    with FakeExchange() as fake:
        fake.add_coinbase_key(name, public_key)
        fake.faults.add(Fault("drop", path="/orders"))
        client = CoinbaseClient(key, base_url=fake.url)
"""

from coinswarm.venues.fake.faults import Fault, Faults
from coinswarm.venues.fake.server import FakeExchange

__all__ = ["FakeExchange", "Fault", "Faults"]
