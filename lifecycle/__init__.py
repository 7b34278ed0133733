"""Order lifecycle tracking as explicit finite-state machines."""
