"""tools/model_converters/torchvision_resnet_to_mmpretrain.py: torchvision's ResNet-50 state_dict becomes an
mmpretrain ImageClassifier checkpoint that loads strictly into the model of configs/resnet50_in1k.py and
computes the same logits (float64), so a wrong key mapping fails here."""
import copy
import importlib.util
import subprocess
import sys

import pytest
import torch
import torchvision
from mmengine.config import Config

from config_helpers import ROOT

from mmdenoiserep.apis import build_model

TOOL = ROOT / 'tools' / 'model_converters' / 'torchvision_resnet_to_mmpretrain.py'


def run_tool(monkeypatch, *args):
    """The tool's main() in this process (its import is the slow part of a subprocess)."""
    spec = importlib.util.spec_from_file_location('torchvision_resnet_to_mmpretrain', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', [str(TOOL), *map(str, args)])
    tool.main()


@pytest.fixture(scope='module')
def torchvision_resnet50():
    """torchvision's ResNet-50 (no download) with non-trivial values everywhere, BN statistics included."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(1000)
        model.fc.bias.normal_(0, 0.5)
    return model.eval()  # float32, as the zoo ships it


@pytest.fixture(scope='module')
def mmpretrain_resnet50():
    """The model of configs/resnet50_in1k.py (ResNet-50 + GlobalAveragePooling + LinearClsHead)."""
    model = build_model(Config.fromfile(str(ROOT / 'configs' / 'resnet50_in1k.py')))
    return model.double().eval()  # float32 checkpoints load into it cast


def test_converted_checkpoint_loads_strictly_and_gives_the_same_logits(tmp_path, monkeypatch, torchvision_resnet50,
                                                                       mmpretrain_resnet50):
    src, dst = tmp_path / 'resnet50-torchvision.pth', tmp_path / 'resnet50_mmpretrain.pth'
    torch.save(torchvision_resnet50.state_dict(), src)  # a plain state_dict, as torchvision's zoo ships it
    run_tool(monkeypatch, src, dst)
    checkpoint = torch.load(dst, weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'}
    mmpretrain_resnet50.load_state_dict(checkpoint['state_dict'], strict=True)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected = copy.deepcopy(torchvision_resnet50).double()(x)
        logits = mmpretrain_resnet50(x, mode='tensor')
    assert expected.shape == (2, 1000) and expected.std() > 0.1  # logits that tell weights apart
    torch.testing.assert_close(logits, expected, rtol=1e-10, atol=1e-10)


def test_a_zoo_file_without_num_batches_tracked_gets_exactly_the_model_keys(tmp_path, monkeypatch,
                                                                            torchvision_resnet50,
                                                                            mmpretrain_resnet50):
    src, dst = tmp_path / 'old.pth', tmp_path / 'new.pth'
    torch.save({k: v for k, v in torchvision_resnet50.state_dict().items() if 'num_batches_tracked' not in k}, src)
    run_tool(monkeypatch, src, dst)
    assert set(torch.load(dst, weights_only=True)['state_dict']) == set(mmpretrain_resnet50.state_dict())


def test_a_missing_file_is_a_one_line_error_and_no_output(tmp_path):
    dst = tmp_path / 'out' / 'resnet50.pth'
    result = subprocess.run([sys.executable, str(TOOL), str(tmp_path / 'missing.pth'), str(dst)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'missing.pth' in result.stderr and not dst.exists() and not dst.parent.exists()
