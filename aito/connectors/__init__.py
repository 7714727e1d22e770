"""AITO's own connectors: each an MCP server (`aito mcp serve NAME`), one module each.

A connector reads its secrets from its environment (handed to it alone by whoever starts
it: a worker's sandbox, from the names `mcp.servers.<name>.env` lists) and the hosts it
may reach from ``AITO_MCP_DOMAINS`` (a comma-separated list: the server's `domains`).
What it returns is data for the model, each read stamped with its source and time.
"""
