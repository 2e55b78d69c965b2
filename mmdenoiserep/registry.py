"""mmdenoiserep's registry nodes, children of mmengine's roots (scope ``mmdenoiserep``).

Config types written ``mmdenoiserep.X`` resolve from any OpenMMLab toolbox: the registry imports this
module, whose lazy ``locations`` import the modules that register X.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import Registry

__all__ = ['MODELS', 'HOOKS', 'METRICS', 'DATASETS', 'DATA_SAMPLERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
           'PARAM_SCHEDULERS']

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmdenoiserep', locations=['mmdenoiserep.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmdenoiserep', locations=['mmdenoiserep.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmdenoiserep', locations=['mmdenoiserep.evaluation'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmdenoiserep', locations=['mmdenoiserep.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mmdenoiserep',
                         locations=['mmdenoiserep.datasets'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='mmdenoiserep', locations=['mmdenoiserep.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope='mmdenoiserep',
                            locations=['mmdenoiserep.engine'])
