"""Policies: clients of the engine that may only ask.

Rule of this layer: it imports only ``core`` and ``config``. The reconciler and the
safety sync see the engine through the asking protocol
(:mod:`lifecycle.policy.asking`) and never import the engine; they move orders
only into asking states and never write state.
"""
