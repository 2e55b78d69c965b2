"""mmdenoiserep: DenoiseRep (NeurIPS 2024) for OpenMMLab backbones; see README.md.

The public API is the pure-PyTorch core (`mmdenoiserep.core`); the OpenMMLab parts (registry nodes,
backbone wrapper, hook, tools support) live in their own modules and are imported on demand.

With mmengine installed, importing the package (as every config's ``custom_imports`` does) also opens
this project to the stock OpenMMLab tools: ``_base_ = 'mmdenoiserep::denoiserep/<config>.py'`` resolves
from any folder, and the checkpoints its runs write load with torch's ``weights_only`` safety on.
"""
from .core import (add_denoisers, denoise_loss, denoiser_parameters, denoiser_report, denoising_layers,
                   enter_phase, freeze_running_stats, fuse_denoisers, fused_weights_cached, set_phase)
from .version import __version__

__all__ = ['add_denoisers', 'denoise_loss', 'denoiser_parameters', 'denoiser_report', 'denoising_layers',
           'enter_phase', 'freeze_running_stats', 'fuse_denoisers', 'fused_weights_cached', 'set_phase',
           '__version__']


def _open_to_mmengine() -> None:
    """Register the package's configs with mmengine's ``pkg::`` resolver and allowlist the globals of
    mmengine checkpoints for ``torch.load(weights_only=True)`` (mmdet's ``init_detector``, mmpretrain's
    ``get_model``, mmengine's ``load_checkpoint``); nothing without mmengine.

    mmengine maps a config scope to a distribution name and looks for ``.mim/`` where the installed
    metadata says the distribution is: site-packages for an editable install, where the package is not.
    A name that is no distribution but a module of this package (``mmdenoiserep.version``) makes it fall
    back to ``find_spec``, whose folder is the imported package's own, wheel or editable install alike.
    The import must come first: mmengine accepts a ``pkg::`` scope only if the dict ``MODULE2PACKAGE`` of
    mmengine/config/utils.py (a literal of the OpenMMLab toolboxes) holds it, which no installed file or
    package metadata can extend. So ``import mmdenoiserep`` before ``Config.fromfile`` of a config that inherits
    ``mmdenoiserep::`` (that config's own ``custom_imports`` come too late: mmengine imports them after it has
    resolved the bases).
    """
    try:
        from mmengine.config.utils import MODULE2PACKAGE
    except ImportError:  # the core works without mmengine
        return
    from .utils.checkpoint import allow_mmengine_checkpoints
    MODULE2PACKAGE[__name__] = f'{__name__}.version'
    allow_mmengine_checkpoints()


_open_to_mmengine()
