"""The worker's tools: its MCP servers (run on the trusted side), their calls checked and
recorded, and the tool loop that lets a worker read before it acts."""
