"""Logs that tell a cycle's story: one correlation id (the cycle id) on every line of a cycle,
whichever cloud runs each stage, and no secret ever written."""
