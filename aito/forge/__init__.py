"""Forges: where the governance repo, its pull requests and reviews live (local git or GitHub)."""
