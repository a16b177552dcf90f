"""The research loop: checks and searches that tell whether a strategy is any good out of sample."""
