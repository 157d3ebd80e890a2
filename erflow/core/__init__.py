"""The rules, pure: the ticket model and its fields, the workflow loaded from workflow.yaml, the engine
that decides what may happen next, conditions, timers and business time. No I/O; imports nothing else
of erflow."""
