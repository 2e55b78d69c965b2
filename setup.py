"""mmdenoiserep: DenoiseRep (NeurIPS 2024) for the OpenMMLab 2.0 toolboxes.

`configs/` and `tools/` ship inside the package under `mmdenoiserep/.mim/` (symlinked for an editable
install, copied for a wheel), the OpenMMLab way. mmengine resolves ``pkg::folder/file.py`` and needs the
folder, so the configs appear as `.mim/configs/denoiserep/`:
``_base_ = 'mmdenoiserep::denoiserep/mask_rcnn_swinv2_t_denoiserep_coco.py'`` works like ``mmdet::...``.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

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
                            'mutmut==3.8.1']}


def version():
    scope = {}
    with open(osp.join(HERE, 'mmdenoiserep', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def add_mim_extension():
    """Link (editable install) or copy (build) ``MIM_FILES`` into mmdenoiserep/.mim/."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'install', 'build', 'build_py')):
        mode = 'copy'
    else:
        return
    mim_root = osp.join(HERE, 'mmdenoiserep', '.mim')
    shutil.rmtree(mim_root, ignore_errors=True)
    for name, target in MIM_FILES.items():
        src, dst = osp.join(HERE, name), osp.join(mim_root, target)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)


if __name__ == '__main__':
    add_mim_extension()
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
        package_data={'mmdenoiserep': ['.mim/model-index.yml', '.mim/configs/**/*', '.mim/tools/**/*']},
        install_requires=INSTALL_REQUIRES,
        extras_require=EXTRAS_REQUIRE,
        zip_safe=False,
    )
