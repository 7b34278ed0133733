"""Simulation: the simulation job, the example quoter and the demo.

Rule of this layer: it may import everything below the CLI, and it is the only
layer of the package (with the CLI) that imports the simulated adapter.
"""
