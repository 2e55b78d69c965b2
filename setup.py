"""mmdenoiserep: DenoiseRep (NeurIPS 2024) for the OpenMMLab 2.0 toolboxes.

`configs/` and `tools/` ship inside the package under `mmdenoiserep/.mim/`, the OpenMMLab way: symlinked
into the source tree for an editable install, copied into the build (never into the source tree, whose
links an editable install uses) for a wheel. mmengine resolves ``pkg::folder/file.py`` and needs the
folder, so the configs appear as `.mim/configs/denoiserep/`:
``_base_ = 'mmdenoiserep::denoiserep/mask_rcnn_swinv2_t_denoiserep_coco.py'`` works like ``mmdet::...``
once mmdenoiserep is imported (it registers the scope with mmengine; see mmdenoiserep/__init__.py).
An sdist carries configs/, tools/ and model-index.yml (MANIFEST.in) for the wheel built from it.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# repository path -> path under .mim
# (model-index.yml imports configs/metafile.yml, which mmengine reads relative to .mim)
MIM_FILES = {'configs': 'configs/denoiserep', 'configs/metafile.yml': 'configs/metafile.yml', 'tools': 'tools',
             'model-index.yml': 'model-index.yml'}

INSTALL_REQUIRES = [
    'torch>=2.1',  # an installed torch (e.g. a CUDA build) is kept; see tools/setup_env.sh
    'torchvision',
    'mmengine==0.10.7',
    'mmcv==2.1.0',  # with compiled ops; built once by tools/setup_env.sh
    'mmdet==3.3.0',
    'mmsegmentation==1.2.2',
    'mmpretrain==1.2.0',
    'ftfy',  # imported by mmseg, not declared by it
    'regex',  # imported by mmseg, not declared by it
    'setuptools>=77,<82',  # mmengine resolves `pkg::` configs through pkg_resources
    'numpy',
]
EXTRAS_REQUIRE = {'tests': ['pytest', 'hypothesis', 'pytest-timeout', 'onnx==1.23.2', 'onnxruntime==1.32.0',
                            'mutmut==3.8.1'],
                  # VMamba's fused CUDA selective scan (mmdenoiserep/models/vmamba.py uses it on CUDA when installed;
                  # without it, the pure-PyTorch scan): needs a CUDA toolchain to build
                  'vmamba-cuda': ['mamba-ssm']}


def version():
    scope = {}
    with open(osp.join(HERE, 'mmdenoiserep', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def place_mim_files(mim_root: str, link: bool) -> None:
    """``MIM_FILES`` under ``mim_root`` (replacing what was there): symlinks, or copies."""
    shutil.rmtree(mim_root, ignore_errors=True)
    for name, target in MIM_FILES.items():
        src, dst = osp.join(HERE, name), osp.join(mim_root, target)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        if link:
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copy(src, dst)


class BuildPyWithMim(build_py):
    """build_py, then ``MIM_FILES`` copied into the built package's .mim/ (what a wheel installs)."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):  # an editable install reads the source tree's links
            place_mim_files(osp.join(self.build_lib, 'mmdenoiserep', '.mim'), link=False)


if __name__ == '__main__':
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:  # an editable install
        place_mim_files(osp.join(HERE, 'mmdenoiserep', '.mim'), link=True)
    setup(
        name='mmdenoiserep',
        version=version(),
        description='DenoiseRep: computation-free feature denoising for OpenMMLab backbones',
        long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
        long_description_content_type='text/markdown',
        license='Apache-2.0',
        python_requires='>=3.9',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        install_requires=INSTALL_REQUIRES,
        extras_require=EXTRAS_REQUIRE,
        cmdclass={'build_py': BuildPyWithMim},
        zip_safe=False,
    )
