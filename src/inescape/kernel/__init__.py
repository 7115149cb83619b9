"""Framework-free core: errors, ids, clock, events, the bus protocol, jobs, module specs, ports."""
