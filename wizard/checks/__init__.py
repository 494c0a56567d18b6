"""Prerequisite checks of the environment: packages, pins, GPU, providers, memory, login.

Reads metadata and files; ``probe`` runs torch and onnxruntime only in a child process.
"""
