"""Load a config the way the tools do (``--tiny``, ``--cfg-options key=value ...``), for tests."""
import argparse

from mmengine.config import Config, DictAction

from mmdenoiserep.runner import load_config


def load(config: str, *options: str, tiny: bool = True, work_dir=None, launcher: str = 'none') -> Config:
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg_options = parser.parse_args(['--cfg-options', *options]).cfg_options if options else None
    args = argparse.Namespace(config=config, tiny=tiny, cfg_options=cfg_options, launcher=launcher, local_rank=0)
    return load_config(args, work_dir=None if work_dir is None else str(work_dir))
