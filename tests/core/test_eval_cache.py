"""W' reused by default in eval mode (issue 21, item 11): an unfused model's ``model.eval(); model(x)``
under no_grad computes each fused weight once; the opt-out, training mode, gradients and tracers recompute.

The reference of every comparison is ``fuse_denoisers`` of a copy: the stock layers holding W', b', computed
without any reuse.
"""
import contextlib
import copy
import os

import pytest
import torch
from toy_models import TinyResNet, TinyViT

import mmdenoiserep.core.layers as layers_module
from mmdenoiserep import add_denoisers, denoising_layers, fuse_denoisers, fused_weights_cached, set_phase

TIGHT = dict(rtol=1e-12, atol=1e-12)


def denoised(model_class=TinyResNet, seed=0):
    """``model_class`` in float64 with denoisers, random denoisers and norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = model_class().double()
    add_denoisers(model, example_inputs=torch.randn(1, 3, 8, 8, dtype=torch.float64))
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if tensor.dim() == 1 else torch.randn_like(tensor) * 0.3)
    return model.eval()


def reference(model, x):
    """The output of the fused stock model made from ``model`` now."""
    with torch.no_grad():
        return fuse_denoisers(copy.deepcopy(model)).eval()(x)


@pytest.fixture
def fusions(monkeypatch):
    """The number of W' computations (calls of fuse_denoiser_weights by any layer) so far: a list to count."""
    calls = []
    fuse = layers_module.fuse_denoiser_weights
    monkeypatch.setattr(layers_module, 'fuse_denoiser_weights', lambda *a: calls.append(1) or fuse(*a))
    return calls


def inputs(seed=1):
    return torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('model_class', [TinyResNet, TinyViT])
@pytest.mark.parametrize('mode', ['no_grad', 'inference_mode', 'frozen'])
def test_second_eval_forward_reuses_w_prime_and_equals_the_fused_model(fusions, model_class, mode):
    """frozen: W, b, A, a need no gradient, so W' is reused with gradients enabled too."""
    model = denoised(model_class)
    x = inputs()
    expected = reference(model, x)
    count = len(denoising_layers(model))
    if mode == 'frozen':
        model.requires_grad_(False)
    context = {'no_grad': torch.no_grad, 'inference_mode': torch.inference_mode, 'frozen': torch.enable_grad}[mode]
    fusions.clear()
    with context():
        first = model(x)
        second = model(x)
    assert len(fusions) == count  # the first forward computed each W' once, the second none
    with torch.no_grad():  # usable outside inference mode as well
        third = model(x)
    assert len(fusions) == count
    for output in (first, second, third):
        torch.testing.assert_close(output, expected, **TIGHT)


def test_w_prime_kept_under_inference_mode_serves_a_forward_with_input_gradients(fusions):
    model = denoised().requires_grad_(False)
    x = inputs()
    with torch.inference_mode():
        model(x)
    x.requires_grad_(True)
    model(x).square().sum().backward()
    assert len(fusions) == len(denoising_layers(model))
    x_ref = x.detach().clone().requires_grad_(True)
    fuse_denoisers(copy.deepcopy(model))(x_ref).square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, **TIGHT)


def test_eval_forward_needing_gradients_of_the_weights_recomputes(fusions):
    model = denoised()
    model(inputs()).sum().backward()
    model(inputs()).sum().backward()
    assert len(fusions) == 2 * len(denoising_layers(model))
    assert all(layer.denoiser.weight.grad is not None for _, layer in denoising_layers(model))
    with torch.no_grad():
        model(inputs())
    assert len(fusions) == 3 * len(denoising_layers(model))  # none was kept by the forwards with gradients


@pytest.mark.parametrize('opt_out', ['block', 'per layer'])
def test_opt_out_recomputes_w_prime_in_every_forward(fusions, opt_out):
    model = denoised()
    x = inputs()
    expected = reference(model, x)
    layers = [layer for _, layer in denoising_layers(model)]
    if opt_out == 'per layer':
        for layer in layers:
            layer.reuse_fused_weights = False
    with torch.no_grad():
        model(x)  # 'block': W' kept here, dropped when the block starts
        fusions.clear()
        with fused_weights_cached(model, enabled=False) if opt_out == 'block' else contextlib.nullcontext():
            outputs = [model(x) for _ in range(3)]
            assert all(not layer.reuse_fused_weights for layer in layers)
    assert len(fusions) == 3 * len(layers)
    assert all(layer.reuse_fused_weights == (opt_out == 'block') for layer in layers)  # block: the default again
    for output in outputs:
        torch.testing.assert_close(output, expected, **TIGHT)


@pytest.mark.parametrize('phase, per_forward', [('denoise', 0), ('finetune', 1), ('joint', 1)])
def test_training_mode_never_uses_or_keeps_w_prime(fusions, phase, per_forward):
    model = denoised()
    with torch.no_grad():
        model(inputs())  # kept in eval mode
        model.train()  # drops it
        set_phase(model, phase)
        fusions.clear()
        for _ in range(2):
            model(inputs())
        assert len(fusions) == 2 * per_forward * len(denoising_layers(model))
        model.eval()(inputs())
    assert len(fusions) == (2 * per_forward + 1) * len(denoising_layers(model))  # nothing kept to reuse


def sgd_step_in_eval_mode(model):
    """Eval-mode training (frozen norm statistics): the gradient forward recomputes W', the step is in place."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model(inputs(seed=2)).square().sum().backward()
    optimizer.step()


CHANGES = {
    'optimizer step': sgd_step_in_eval_mode,
    'load_state_dict': lambda model: model.load_state_dict(denoised(seed=3).state_dict()),
    'to(dtype)': lambda model: model.float(),
}


@pytest.mark.parametrize('change', sorted(CHANGES))
def test_kept_w_prime_follows_changes_of_the_weights_without_train_or_eval(change):
    model = denoised()
    with torch.no_grad():
        before = model(inputs())
    CHANGES[change](model)
    assert not model.training
    x = inputs().to(next(model.parameters()).dtype)
    with torch.no_grad():
        after = model(x)
    if change == 'to(dtype)':
        assert after.dtype == torch.float32
        torch.testing.assert_close(after, reference(model, x))
    else:
        torch.testing.assert_close(after, reference(model, x), **TIGHT)
        assert (after - before).abs().max() > 1e-3  # the change mattered


def test_writes_through_data_are_seen_after_eval_or_in_the_opt_out_only():
    """The documented limit: ``.data`` bypasses the version counter."""
    model = denoised()
    x = inputs()
    with torch.no_grad():
        before = model(x)
        denoising_layers(model)[1][1].weight.data.mul_(2.0)
        stale = model(x)
        with fused_weights_cached(model, enabled=False):
            fresh_in_block = model(x)
        fresh_after_eval = model.eval()(x)
    expected = reference(model, x)
    torch.testing.assert_close(stale, before, rtol=0, atol=0)
    torch.testing.assert_close(fresh_in_block, expected, **TIGHT)
    torch.testing.assert_close(fresh_after_eval, expected, **TIGHT)
    assert (expected - before).abs().max() > 1e-3


@pytest.mark.parametrize('tracer', [
    'jit.trace',
    # mutmut's trampolines set a ContextVar, which torch.compile(fullgraph=True) refuses to trace; the
    # jit.trace case covers the same code under mutation testing
    pytest.param('compile', marks=pytest.mark.skipif('MUTANT_UNDER_TEST' in os.environ,
                                                     reason='torch.compile cannot trace mutmut trampolines'))])
def test_tracers_see_w_prime_computed_from_the_parameters(tracer):
    """A traced graph must not hold W' as a constant: it follows an in-place change of W."""
    model = denoised()
    x = inputs()
    with torch.no_grad():
        model(x)  # W' kept before tracing
        traced = (torch.jit.trace(model, x, check_trace=False) if tracer == 'jit.trace'
                  else torch.compile(model, backend='eager', fullgraph=True))
        traced(x)
        denoising_layers(model)[0][1].weight.mul_(1.5)
        output = traced(x)
    torch.testing.assert_close(output, reference(model, x), **TIGHT)


def test_parameters_that_are_inference_tensors_are_not_kept(fusions):
    """Converted under inference mode, the Parameters have no version counter to key W' on."""
    model = denoised()
    with torch.inference_mode():
        model.float()
        x = inputs().float()
        fusions.clear()
        model(x), model(x)
    assert len(fusions) == 2 * len(denoising_layers(model))  # the second forward reused nothing


def test_enabled_must_be_a_bool():
    with pytest.raises(TypeError, match='enabled must be a bool'):
        with fused_weights_cached(denoised(), enabled='no'):
            pass
