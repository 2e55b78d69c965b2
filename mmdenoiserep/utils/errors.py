"""The one exception type that the tools report as a one-line error (no traceback)."""

__all__ = ['InputError']


class InputError(ValueError):
    """Bad input (a config, checkpoint or argument) that a run cannot go on with; says what to change."""
