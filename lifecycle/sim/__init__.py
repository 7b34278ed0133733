"""Simulation: the simulation job, the example quoter and the demo.

Rule of this layer: it may import everything below the CLI, and it is the only
layer of the package (with the CLI) that imports the simulated adapter.
"""

from lifecycle.sim.command import simulate_command
from lifecycle.sim.report import INVARIANTS, JSON_KEYS, RestartInfo, SimulationReport
from lifecycle.sim.simulate import run_simulation, write_diagram
from lifecycle.sim.spec import ScheduledFault, SimulationSpec

__all__ = [
    "INVARIANTS",
    "JSON_KEYS",
    "RestartInfo",
    "ScheduledFault",
    "SimulationReport",
    "SimulationSpec",
    "run_simulation",
    "simulate_command",
    "write_diagram",
]
