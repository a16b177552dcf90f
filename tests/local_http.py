"""What the tests' local HTTP stand-ins share."""

# `serve_forever(poll_interval)`: how often the serving thread looks for `shutdown()`. The default, 0.5 s,
# is what every stand-in's stop waited (74 setups and teardowns, 42 s of `make check`'s test time).
STOP_POLL_S = 0.01
