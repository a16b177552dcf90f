"""The five stages of the trading cycle, each a plain service over typed messages.

tick_ingest -> agent_scoring -> committee_vote -> order_placement -> trade_logging

Every stage's `handle(message)` returns the messages to hand on as (topic, message) pairs; the wiring
(fused or mesh) decides how they travel. Stages hold no global state: what must outlive an invocation
lives in the stores.
"""
