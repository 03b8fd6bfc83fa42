"""Composition roots: each function's services built from its settings, once per execution
environment. One module per function, so a handler imports only what it uses (cold start)."""
