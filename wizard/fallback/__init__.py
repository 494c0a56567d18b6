"""Routes for model types optimum cannot export: choosing them and running them.

``routes`` is light (which route, its words); ``child`` imports torch and runs in a child.
"""
