"""Decisions as pull requests: propose, review, tally (through a Forge), record and notify."""
