"""Deprecated alias of `mmdenoiserep.testing.tiny_config` (the same module object) for importers not yet
updated; importing it imports the test scaffolding."""
import sys

from .testing import tiny_config

sys.modules[__name__] = tiny_config
