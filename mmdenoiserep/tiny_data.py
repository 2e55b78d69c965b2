"""Deprecated alias of `mmdenoiserep.testing.tiny_data` (the same module object) for importers not yet
updated; importing it imports the test scaffolding."""
import sys

from .testing import tiny_data

sys.modules[__name__] = tiny_data
