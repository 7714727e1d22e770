"""The decision/veto engine: pure functions from a pull request's history to a verdict."""
