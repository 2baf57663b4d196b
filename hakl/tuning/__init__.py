"""Verified autotuning and dispatch."""
