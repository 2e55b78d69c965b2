"""Deployment proof: a fused DenoiseRep checkpoint exports to the baseline's ONNX graph and runs in onnxruntime.

For a ResNet-18 and a ViT (DeiT-tiny) mmpretrain ImageClassifier, in float32 and eval mode:

1. the baseline model is built with a fixed seed (weights perturbed as a trained checkpoint would be);
2. a deep copy gets `add_denoisers` (with the layer types DenoiseRepBackbone converts, so mmcv's FFN
   Linear wrappers of the ViT are converted too: 21 and 50 layers), every denoiser non-zero random weights
   (so W' != W), and is fused with `fuse_denoisers`; its state_dict loads with exactly the stock keys and shapes
   (`load_state_dict_exact`) into a fresh baseline model built the same way;
3. the baseline model and the fused-weights baseline model are exported with `torch.onnx.export`;
4. the two ONNX graphs are the same: the same operator sequence, the same graph inputs and outputs, the
   same initializers (names, shapes and dtypes, in order); only initializer values differ, and they do
   (at least one changed initializer per fused layer), so the comparison is not vacuous;
5. onnxruntime (CPUExecutionProvider) runs the fused ONNX model and gives the PyTorch fused model's
   output, the unfused DenoiseRep model's output in eval mode (which computes W', b' on the fly), and
   the output of the paper's two-branch form y = W (c3 x - c1 (A x + a)) + b computed without the
   fusion code, all within 1e-4 * max(1, max |output|); it differs from the baseline output by far more.

So deploying DenoiseRep costs nothing in the exported artifact: the ONNX model of the fused checkpoint is
the baseline's ONNX model with other numbers in its initializers.

Export mode: the TorchScript-based exporter (``dynamo=False``), with a fixed opset. It needs only the
``onnx`` package (the default dynamo exporter of torch >= 2.9 also needs ``onnxscript``), and it is
deterministic for a given model structure. torch 2.14 marks it deprecated (a DeprecationWarning, silenced
here); the graph comparison itself does not depend on the exporter.
"""
import copy
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.models import ImageClassifier
from onnx import numpy_helper

from mmdenoiserep import add_denoisers, denoising_layers, fuse_denoisers
from mmdenoiserep.models.backbone import LAYER_TYPES
from mmdenoiserep.utils import load_state_dict_exact

OPSET = 17
SEED = 0
INPUT_SHAPE = (2, 3, 32, 32)
RTOL = 1e-4  # max abs diff <= RTOL * max(1, max |output|)
# Std of the random denoiser weights A, a. c1 is at most sqrt(beta_1) = 0.01, so W' = W (c3 I - c1 A) moves
# the outputs by ~1e-2 relative at this scale (~1e-3 at 0.01): 40x (ResNet) to 80x (ViT) the tolerance.
DENOISER_SCALE = 0.05

BACKBONES = {
    'resnet18': dict(
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512)),
    'vit-deit-tiny': dict(
        backbone=dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=16),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=192)),
}


def build_baseline(name: str) -> ImageClassifier:
    """The stock classifier in eval mode, float32, with seeded weights standing in for a trained checkpoint.

    Every parameter and running statistic gets a seeded perturbation: a trained model has no two equal
    tensors (freshly initialised ones have, e.g. zero biases and zero position embeddings), and the ONNX
    exporter deduplicates equal initializers, which would make the graphs differ for a reason that has
    nothing to do with fusion.
    """
    torch.manual_seed(SEED)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # whatever scope an earlier test left
        model = ImageClassifier(**copy.deepcopy(BACKBONES[name]))
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.02)
        for buffer_name, buffer in model.named_buffers():
            if buffer_name.endswith('running_mean'):
                buffer.copy_(torch.randn(buffer.shape, generator=generator) * 0.1)
            elif buffer_name.endswith('running_var'):
                buffer.copy_(torch.rand(buffer.shape, generator=generator) + 0.5)
    return model.float().eval()


def export(model: torch.nn.Module, inputs: torch.Tensor, path) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(model, (inputs, ), str(path), dynamo=False, opset_version=OPSET,
                          input_names=['input'], output_names=['output'])
    exported = onnx.load(str(path))
    onnx.checker.check_model(exported)
    return exported


def run_onnxruntime(path, inputs: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    (output, ) = session.run(None, {'input': inputs.numpy()})
    return output


def max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def tolerance(reference) -> float:
    return RTOL * max(1.0, float(np.abs(np.asarray(reference)).max()))


def two_branch_reference(name: str, denoiserep: torch.nn.Module) -> torch.nn.Module:
    """A fresh baseline model computing the paper's two-branch form without any fused weight.

    Every converted layer gets its input cleaned first, x -> c3 x - c1 (A x + a), by a forward pre-hook
    running the layer's own denoiser; the layer then applies its stock W, b. Nothing of the fusion code
    (`fused_weights`, `to_plain`) is used, so this also checks W', b' themselves. On an unpadded input the
    hook equals the padded-input denoiser of `DenoisingConv2d` when the conv pads nothing or is bias-free
    (then a = 0 and the zero padding stays zero), which holds for every conv of these two models.
    """
    reference = build_baseline(name)
    for layer_name, layer in denoising_layers(denoiserep):
        module = reference.get_submodule(layer_name)
        if isinstance(module, torch.nn.Conv2d):
            assert module.padding_mode == 'zeros'
            assert layer.denoiser.bias is None or not any(module.padding), layer_name
        c3, c1 = layer.coefficients

        def clean(_module, args, c3=c3, c1=c1, denoiser=layer.denoiser):
            (x, ) = args
            return (c3 * x - c1 * denoiser(x), )

        module.register_forward_pre_hook(clean)
    return reference


def value_info(values):
    return [(v.name, v.type.tensor_type.elem_type, [d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in values]


@pytest.fixture(scope='module', params=list(BACKBONES))
def exported(request, tmp_path_factory):
    """Build, convert, fuse and export one backbone once for the tests of this module."""
    name = request.param
    inputs = torch.randn(INPUT_SHAPE, generator=torch.Generator().manual_seed(SEED + 1))
    baseline = build_baseline(name)

    denoiserep = add_denoisers(copy.deepcopy(baseline), example_inputs=inputs, layer_types=LAYER_TYPES)
    layers = denoising_layers(denoiserep)
    generator = torch.Generator().manual_seed(SEED + 2)
    with torch.no_grad():  # trained denoisers: W' != W, b' != b
        for _, layer in layers:
            for param in layer.denoiser.parameters():
                param.copy_(torch.randn(param.shape, generator=generator) * DENOISER_SCALE)
    denoiserep.eval()

    fused = build_baseline(name)
    load_state_dict_exact(fused, fuse_denoisers(copy.deepcopy(denoiserep)).state_dict())
    assert not denoising_layers(fused)

    tmp = tmp_path_factory.mktemp(f'onnx-{name}')
    with torch.no_grad():
        outputs = dict(baseline=baseline(inputs).numpy(), fused=fused(inputs).numpy(),
                       unfused=denoiserep(inputs).numpy(),
                       two_branch=two_branch_reference(name, denoiserep)(inputs).numpy())
    yield dict(name=name, inputs=inputs, num_layers=len(layers), outputs=outputs,
               baseline_path=tmp / 'baseline.onnx', fused_path=tmp / 'fused.onnx',
               baseline_onnx=export(baseline, inputs, tmp / 'baseline.onnx'),
               fused_onnx=export(fused, inputs, tmp / 'fused.onnx'))
    for path in tmp.iterdir():  # ~45 MB per ResNet-18 graph: do not leave them in pytest's basetemp
        path.unlink()


def test_fused_checkpoint_exports_to_the_baseline_onnx_graph(exported):
    baseline, fused = exported['baseline_onnx'].graph, exported['fused_onnx'].graph
    expected_layers = 21 if exported['name'] == 'resnet18' else 50  # every Conv2d/Linear, head included
    assert exported['num_layers'] == expected_layers

    baseline_ops = [node.op_type for node in baseline.node]
    assert baseline_ops, 'empty graph'
    assert {'Conv', 'Gemm'} & set(baseline_ops)
    assert [node.op_type for node in fused.node] == baseline_ops
    assert value_info(fused.input) == value_info(baseline.input)
    assert value_info(fused.output) == value_info(baseline.output)
    assert [(i.name, tuple(i.dims), i.data_type) for i in fused.initializer] == \
        [(i.name, tuple(i.dims), i.data_type) for i in baseline.initializer]

    changed = [a.name for a, b in zip(baseline.initializer, fused.initializer)
               if not np.array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))]
    assert len(changed) >= exported['num_layers'], (len(changed), exported['num_layers'])


def test_fused_onnx_model_in_onnxruntime_matches_pytorch(exported):
    outputs = exported['outputs']
    fused_ort = run_onnxruntime(exported['fused_path'], exported['inputs'])
    baseline_ort = run_onnxruntime(exported['baseline_path'], exported['inputs'])
    assert fused_ort.shape == outputs['fused'].shape == (INPUT_SHAPE[0], 10)

    tol = tolerance(outputs['fused'])
    assert max_diff(fused_ort, outputs['fused']) <= tol
    assert max_diff(fused_ort, outputs['unfused']) <= tol
    assert max_diff(fused_ort, outputs['two_branch']) <= tol
    assert max_diff(outputs['fused'], outputs['unfused']) <= tol
    assert max_diff(baseline_ort, outputs['baseline']) <= tolerance(outputs['baseline'])
    # the denoisers changed what the model computes, far beyond the tolerance
    assert max_diff(fused_ort, baseline_ort) > 10 * tol
