"""Fixtures for the publish tests: the exports are made once per session, shared by all files."""

from tests.publish.support import bert_q, export_home, exports, t5_q

__all__ = ["bert_q", "export_home", "exports", "t5_q"]
