"""mmdenoiserep's registry nodes, children of mmengine's roots (scope ``mmdenoiserep``).

Config types written ``mmdenoiserep.X`` resolve from any OpenMMLab toolbox: the registry imports this
module, whose lazy ``locations`` import the modules that register X.

A config that inherits ours (``_base_ = 'mmdenoiserep::denoiserep/<config>.py'``) gets ``_scope_ =
'mmdenoiserep'`` on every node of ours that names no other scope (mmengine's rule for ``pkg::`` bases), so
that node and everything built inside it is looked up here; but our configs are mmdet, mmseg or mmpretrain
configs whose types (``ImageClassifier``, ``PackInputs``, ...) are that toolbox's. So every root registry
has a node here, and a name that is none of ours resolves as in the toolbox of the config: the default
scope the ``mmdenoiserep`` scope was entered from (the config's ``default_scope``), the way mmdet builds a
node tagged ``_scope_ = 'mmpretrain'`` with mmpretrain's registry.
"""
from importlib import import_module
from typing import Optional

import mmengine.registry as mmengine_registry
from mmengine.registry import DefaultScope, Registry

__all__ = ['ToolboxFallbackRegistry', 'MODELS', 'HOOKS', 'METRICS', 'DATASETS', 'DATA_SAMPLERS',
           'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'TRANSFORMS', 'RUNNERS', 'RUNNER_CONSTRUCTORS',
           'LOOPS', 'STRATEGIES', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
           'EVALUATOR', 'TASK_UTILS', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS', 'FUNCTIONS']

SCOPE = 'mmdenoiserep'


class ToolboxFallbackRegistry(Registry):
    """A registry node that, while the default scope is its own, resolves a name it does not register
    (``ImageClassifier``, not ``mmdenoiserep.ImageClassifier``) in the toolbox of the enclosing default
    scope, with that toolbox's precedence (mmdet's ``LoadAnnotations`` before mmcv's); otherwise as any
    mmengine registry (its own names, then its parents')."""

    def get(self, key: str):
        scope, name = self.split_scope_key(key)
        if scope is None:
            self.import_from_location()
            toolbox = None if name in self._module_dict else self._toolbox_registry()
            if toolbox is not None:
                return toolbox.get(key)
        return super().get(key)

    def _toolbox_registry(self) -> Optional[Registry]:
        """The registry of the innermost default scope other than ours, when the current one is ours."""
        current = DefaultScope.get_current_instance()
        if current is None or current.scope_name != self.scope:
            return None
        outer = [s.scope_name for s in reversed(list(DefaultScope._instance_dict.values()))
                 if s.scope_name != self.scope]
        if not outer:
            return None
        try:
            import_module(f'{outer[0]}.registry')  # its nodes join the tree (as mmengine's scope switch does)
        except ImportError:
            pass
        registry = self._get_root_registry()._search_child(outer[0])
        return None if registry is None or registry is self else registry


def _node(name: str, locations=(__name__,)) -> ToolboxFallbackRegistry:
    """The node of mmengine's root registry ``name``; ``locations``: the modules registering into it (this
    one where none: with no location, mmengine would call ``mmdenoiserep.utils.register_all_modules``)."""
    root = getattr(mmengine_registry, name)
    return ToolboxFallbackRegistry(root.name, parent=root, scope=SCOPE, locations=list(locations))


MODELS = _node('MODELS', ['mmdenoiserep.models'])
HOOKS = _node('HOOKS', ['mmdenoiserep.engine'])
METRICS = _node('METRICS', ['mmdenoiserep.evaluation'])
DATASETS = _node('DATASETS', ['mmdenoiserep.datasets'])
DATA_SAMPLERS = _node('DATA_SAMPLERS', ['mmdenoiserep.datasets'])
OPTIM_WRAPPER_CONSTRUCTORS = _node('OPTIM_WRAPPER_CONSTRUCTORS', ['mmdenoiserep.engine'])
PARAM_SCHEDULERS = _node('PARAM_SCHEDULERS', ['mmdenoiserep.engine'])
# nothing of ours: there so that a node of our configs tagged with our scope builds with the toolbox's types
TRANSFORMS = _node('TRANSFORMS')
RUNNERS = _node('RUNNERS')
RUNNER_CONSTRUCTORS = _node('RUNNER_CONSTRUCTORS')
LOOPS = _node('LOOPS')
STRATEGIES = _node('STRATEGIES')
MODEL_WRAPPERS = _node('MODEL_WRAPPERS')
WEIGHT_INITIALIZERS = _node('WEIGHT_INITIALIZERS')
OPTIMIZERS = _node('OPTIMIZERS')
OPTIM_WRAPPERS = _node('OPTIM_WRAPPERS')
EVALUATOR = _node('EVALUATOR')
TASK_UTILS = _node('TASK_UTILS')
VISUALIZERS = _node('VISUALIZERS')
VISBACKENDS = _node('VISBACKENDS')
LOG_PROCESSORS = _node('LOG_PROCESSORS')
INFERENCERS = _node('INFERENCERS')
FUNCTIONS = _node('FUNCTIONS')
