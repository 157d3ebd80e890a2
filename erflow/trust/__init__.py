"""Proof and agreement: the audit that replays git history, the merge driver for ticket files, and
``erflow sync``."""
