"""The ``erflow`` command: parse arguments, call a use case, print its result, map errors to exit
codes. Thin: no rule of the process lives here."""
