"""Candidate evaluation: fitness against Adam, the interpreter/native cost model, backends."""
