"""The task metadata endpoint (v3 and v4): the server (server.py), the documents it answers
with (shapes.py, pure) and the agent's runs seen as those documents need them (source.py)."""
