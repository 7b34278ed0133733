"""The core: pure data and the machine.

Rule of this layer: it imports nothing else of the package and no I/O library.
States, the transition table (the only place legality is decided), the machine
(the only place state is written), orders, ids, events and commands, errors,
anomalies, the clock types and the state timers live here.
"""
