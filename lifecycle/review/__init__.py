"""Review: diagrams, transition coverage, the pytest plugin, trace and report.

Rule of this layer: it reads the table, the machine and journals; it imports the
engine and below and the journal, never the runtime or ``sim``.
"""
