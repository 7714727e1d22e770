"""Models the agents think with: Anthropic (real), offline (rule-driven), replay (recorded)."""
