"""`audiogen serve`: the HTTP API (`app.create_app`), its jobs (`jobs`), and its request bodies
and tool definitions, generated from the one option schema (`schema`, `tools`).

Nothing is imported here, so that `audiogen tools` needs pydantic but not FastAPI.
"""
