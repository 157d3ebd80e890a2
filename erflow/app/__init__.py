"""The use cases: what each command does, as functions that return values and raise typed errors.
Never prints, never exits."""
