"""The wizard's flow: steps and their words, the state machine, the engine, the session.

Owns every decision a face could make: routes, actions, consent, the texts of every pane.
May import the other engine packages (lazily where they are heavy); never a UI toolkit, never
the child-process modules (enforced by import-linter).
"""
