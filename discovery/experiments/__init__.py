"""Experiments built on runs and analysis: the Adam hypothesis experiment."""
