"""Running exports: the child process and its events, attempts with recovery.

``child`` is the heavy side (optimum, torch) and runs only in a child process. May import
planning, validation, fallback, inspection and the knowledge base.
"""
