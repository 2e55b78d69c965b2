"""Test scaffolding, not part of the runtime package: the tiny datasets (`tiny_data`) and the rules that
shrink any config to run on them (`tiny_config`). The tools import it only under ``--tiny``
(`mmdenoiserep.cli.load_config`); ``tools/make_tiny_data.py`` writes the datasets."""
