"""The engine: the sans-I/O tracker.

Rule of this layer: it imports only ``core``, ``config`` and ``policy``, never a clock,
anyio, httpx, websockets or the adapters. It composes the policies, handing them
itself through the asking protocol (:mod:`lifecycle.policy.asking`).
"""

from lifecycle.engine.facade import (
    Engine,
)

__all__ = [
    "Engine",
]
