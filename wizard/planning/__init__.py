"""The export plan: every decision as main_export() kwargs and as a command; memory; output.

Pure data and arithmetic; imports inspection for the model report.
"""
