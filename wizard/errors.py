"""The one error type the engine raises for anything a user can fix: a problem and its fix."""

from __future__ import annotations


class WizardError(Exception):
    """A failure caused by the user's input or environment, never a bug.

    ``problem`` says what is wrong in one sentence; ``fix`` says what to do about it, ideally as
    a command. The CLI prints both and exits with ``exit_code`` instead of a traceback.
    """

    def __init__(self, problem: str, fix: str, exit_code: int = 2) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.problem}\n  fix: {self.fix}"


def first_line(error: BaseException, limit: int = 400) -> str:
    """``Type: first line of the message``, capped: what a one-line report of an error needs."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:limit]
