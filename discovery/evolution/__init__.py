"""Evolutionary search over update rules: DEAP genomes, variation, validity checks."""
