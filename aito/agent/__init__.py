"""The agent loop: context → prompt → model → actions checked in code → execution → memory."""
