"""Model inspection: the source (folder, Hub id, sample), task detection, weights, task table.

Reads small files only; torch and transformers run in child processes (``sample_build``,
``task_table_child``), never on import. Imports nothing else of the engine.
"""
