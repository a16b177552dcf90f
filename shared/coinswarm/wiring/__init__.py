"""Composition: build adapters from configuration once, wire the stages fused or as a mesh."""
