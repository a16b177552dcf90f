"""How a venue's fill is booked: the fee in the quote currency, whatever asset the venue charged it in."""

from __future__ import annotations

import pytest

from coinswarm.adapters.live_broker import booked
from coinswarm.domain.models import Side
from coinswarm.venues.models import VenueFill


def fill(fee: float, asset: str, size: float = 0.01, price: float = 60_000.0) -> VenueFill:
    return VenueFill("binance", "t1", "o1", "BTCUSDT", Side.BUY, price, size, fee, asset, 0)


def test_a_fee_in_the_quote_currency_is_booked_as_it_is() -> None:
    assert booked(fill(0.6, "USDT"), Side.BUY, "BTC", "USDT") == (0.01, 0.6, "")


def test_a_fee_in_the_base_asset_of_a_buy_leaves_what_the_account_received() -> None:
    quantity, fee, note = booked(fill(0.00001, "BTC"), Side.BUY, "BTC", "USDT")
    assert quantity == pytest.approx(0.00999) and fee == pytest.approx(0.6) and note == ""
    assert quantity * 60_000 + fee == pytest.approx(0.01 * 60_000)  # cash falls by size x price, no more


def test_a_fee_in_a_third_asset_is_left_out_and_said_so() -> None:
    quantity, fee, note = booked(fill(0.0009, "BNB"), Side.BUY, "BTC", "USDT")
    assert (quantity, fee) == (0.01, 0.0) and "0.0009 BNB paid outside the quote currency" in note
