"""Load a config the way the tools do (``--tiny``, ``--cfg-options key=value ...``), and read the
experiments of configs/metafile.yml, for tests."""
import argparse
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config, DictAction

from mmdenoiserep.cli import load_config


def load(config: str, *options: str, tiny: bool = True, work_dir=None, launcher: str = 'none') -> Config:
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg_options = parser.parse_args(['--cfg-options', *options]).cfg_options if options else None
    args = argparse.Namespace(config=config, tiny=tiny, cfg_options=cfg_options, launcher=launcher, local_rank=0)
    return load_config(args, work_dir=None if work_dir is None else str(work_dir))


ROOT = Path(__file__).resolve().parents[1]
#: The experiments of configs/metafile.yml (its ``Models``), one per DenoiseRep config.
EXPERIMENTS = yaml.safe_load((ROOT / 'configs' / 'metafile.yml').read_text(encoding='utf-8'))['Models']


def experiments(slow=(), only=None, ablations=True):
    """pytest params of the metafile's experiments (ids: their names); those named in ``slow`` are marked
    slow; ``only`` keeps the named ones; ``ablations=False`` leaves out the rows that ablate another row's method
    (metafile ``Ablation Of``: no baseline -> control -> DenoiseRep triple of their own; tests/configs/
    test_ablation_rows.py checks them against that row)."""
    return [pytest.param(m, id=m['Name'], marks=[pytest.mark.slow] if m['Name'] in slow else [])
            for m in EXPERIMENTS if (only is None or m['Name'] in only)
            and (ablations or 'Ablation Of' not in m['Metadata'])]


def paths(model):
    """(baseline, control, DenoiseRep) config paths of a metafile model, relative to the repository."""
    return model['Metadata']['Baseline Config'], model['Metadata']['Control Config'], model['Config']
