"""The exception types that the tools report as a one-line error (no traceback) and a non-zero exit."""

__all__ = ['InputError', 'NonFiniteError', 'first_line']


class InputError(ValueError):
    """Bad input (a config, checkpoint or argument) that a run cannot go on with; says what to change."""


class NonFiniteError(ArithmeticError):
    """A NaN or Inf where training or a tool needs finite values; says where (layer, iteration, key)."""


def first_line(error: BaseException) -> str:
    """'Type: first line of the message' of an exception, for a one-line report."""
    lines = str(error).strip().splitlines()
    return f'{type(error).__name__}: {lines[0] if lines else ""}'
