"""add_denoisers -> train in each phase -> fuse_denoisers on small ResNet- and ViT-style models."""
import copy

import pytest
import torch
from torch import nn
from toy_models import TinyResNet, TinyViT

import mmdenoiserep
from mmdenoiserep import (add_denoisers, denoise_loss, denoiser_parameters, denoiser_report,
                          denoising_layers, fuse_denoisers, set_phase)
from mmdenoiserep.core import convertible_layers

MODELS = {'resnet': TinyResNet, 'vit': TinyViT}


def make_inputs(seed=0, n=4):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, 8, 8, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 5, (n,), generator=generator)
    return images, labels


def train_steps(model, phase, steps=3, lr=0.05):
    set_phase(model, phase)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9)
    model.train()
    for i in range(steps):
        images, labels = make_inputs(seed=i)
        loss = nn.functional.cross_entropy(model(images), labels) + 0.1 * denoise_loss(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize('arch', sorted(MODELS))
def test_add_train_fuse_roundtrip(arch):
    torch.manual_seed(0)
    model = MODELS[arch]().double()
    original_keys = list(model.state_dict())
    add_denoisers(model, example_inputs=make_inputs()[0])
    n_layers = len(denoising_layers(model))
    assert n_layers == sum(type(m) in (nn.Linear, nn.Conv2d) for m in MODELS[arch]().modules())
    for phase in ('denoise', 'finetune', 'joint'):
        train_steps(model, phase)
    assert all(p.abs().sum() > 0 for p in denoiser_parameters(model))  # the denoisers did train

    images, _ = make_inputs(seed=99)
    model.eval()
    expected = model(images)
    fused = fuse_denoisers(model)
    assert fused is model and not denoising_layers(model)
    assert all(type(m) not in (mmdenoiserep.core.DenoisingLinear, mmdenoiserep.core.DenoisingConv2d)
               for m in model.modules())
    assert list(model.state_dict()) == original_keys
    torch.testing.assert_close(model(images), expected, rtol=1e-10, atol=1e-10)

    stock = MODELS[arch]().double().eval()
    stock.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(stock(images), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('arch', sorted(MODELS))
def test_denoise_phase_computes_the_original_model(arch):
    torch.manual_seed(0)
    original = MODELS[arch]().double()
    model = add_denoisers(copy.deepcopy(original))
    for p in denoiser_parameters(model):  # a trained denoiser must not change the output either
        nn.init.normal_(p, std=0.5)
    set_phase(model, 'denoise')
    images, _ = make_inputs()
    original.train(), model.train()
    torch.testing.assert_close(model(images), original(images), rtol=1e-12, atol=1e-12)
    model.eval(), original.eval()
    assert (model(images) - original(images)).abs().max() > 1e-6  # eval computes the fused path


def test_denoise_phase_trains_only_denoisers_and_lowers_the_loss():
    """Structured features (rank 4 of 32, plus noise): the denoiser learns to recover the noise."""
    torch.manual_seed(0)
    model = add_denoisers(nn.Sequential(nn.Linear(32, 8)), beta_range=(0.05, 0.05), num_steps=1)
    set_phase(model, 'denoise')
    base = {name: p.detach().clone() for name, p in model.named_parameters() if 'denoiser' not in name}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    basis = torch.randn(4, 32)
    losses = []
    for _ in range(400):
        features = torch.randn(256, 4) @ basis + 0.01 * torch.randn(256, 32)
        model(features)
        loss = denoise_loss(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 1.5  # l1 + l2 of predicting zero noise: E|eps| + E[eps^2] ~ 0.80 + 1
    assert sum(losses[-20:]) / 20 < 0.3 * losses[0]  # measured: 1.81 -> 0.43
    for name, p in model.named_parameters():
        if name in base:
            assert torch.equal(p, base[name]), name


class ReorderedMLP(nn.Module):
    """Registration order c, a, b; execution order a, b, c."""

    def __init__(self):
        super().__init__()
        self.c = nn.Linear(6, 2)
        self.a = nn.Linear(4, 5)
        self.b = nn.Linear(5, 6)

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


def test_steps_follow_execution_order():
    model = add_denoisers(ReorderedMLP(), example_inputs=torch.randn(2, 4))
    assert {name: layer.step for name, layer in denoising_layers(model)} == {'a': 3, 'b': 2, 'c': 1}
    unordered = add_denoisers(ReorderedMLP())  # registration order without example inputs
    assert {name: layer.step for name, layer in denoising_layers(unordered)} == {'c': 3, 'a': 2, 'b': 1}
    report = denoiser_report(model)
    assert report.splitlines()[2].split()[:3] == ['a', 'DenoisingLinear', '3']


def test_trace_leaves_modes_and_statistics_alone():
    model = TinyResNet().double().train()
    stats = copy.deepcopy(model.layer1.bn1.state_dict())
    add_denoisers(model, example_inputs=make_inputs()[0])
    assert all(m.training for m in model.modules())
    for key, value in model.layer1.bn1.state_dict().items():
        assert torch.equal(value, stats[key]), key


def test_selection_by_type_and_name_patterns():
    model = add_denoisers(TinyResNet(), include='layer*', exclude='*downsample*', layer_types=(nn.Conv2d,))
    names = {name for name, _ in denoising_layers(model)}
    assert names == {'layer1.conv1', 'layer1.conv2', 'layer2.conv1', 'layer2.conv2'}
    assert sorted(layer.step for _, layer in denoising_layers(model)) == [1, 2, 3, 4]


def test_unexecuted_and_subclassed_linears_are_left_alone():
    class WithAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)  # out_proj: a Linear subclass
            self.used, self.unused = nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            return self.used(self.attn(x, x, x)[0])

    model = add_denoisers(WithAttention(), example_inputs=torch.randn(1, 3, 8))
    assert [name for name, _ in denoising_layers(model)] == ['used']


def test_shared_module_is_swapped_everywhere():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    add_denoisers(model)
    assert model[0] is model[2] and isinstance(model[0], mmdenoiserep.core.DenoisingLinear)
    fuse_denoisers(model)
    assert model[0] is model[2] and type(model[0]) is nn.Linear


def test_set_phase_changes_requires_grad_only():
    model = add_denoisers(TinyResNet())
    model.stem[0].weight.requires_grad_(False)  # frozen by the user (e.g. frozen_stages)
    params_before = {name: p for name, p in model.named_parameters()}
    denoisers = {id(p) for p in denoiser_parameters(model)}
    expected = {
        'denoise': lambda p: id(p) in denoisers,
        'finetune': lambda p: id(p) not in denoisers and p is not model.stem[0].weight,
        'joint': lambda p: p is not model.stem[0].weight,
    }
    # denoise twice: the second call must remember what the first froze, or finetune would not thaw it
    for phase in ('denoise', 'denoise', 'finetune', 'denoise', 'joint', 'denoise'):
        trainable_before = {id(p): p.requires_grad for p in model.parameters()}
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        set_phase(model, phase)
        assert {n: p for n, p in model.named_parameters()} == params_before
        assert all(p.requires_grad == expected[phase](p) for p in model.parameters()), phase
        # a Parameter frozen by this call loses its pending gradient; every other one keeps it
        assert all((p.grad is None) == (trainable_before[id(p)] and not p.requires_grad)
                   for p in model.parameters()), phase
        assert all(layer.phase == phase for _, layer in denoising_layers(model))


@pytest.mark.parametrize('bias', [True, False])
def test_denoise_loss_without_recorded_calls_is_a_zero_of_the_predictors_dtype(bias):
    """A bias-free layer's denoiser has one Parameter (A); a model without denoising layers gives a
    float32 zero."""
    model = add_denoisers(nn.Sequential(nn.Linear(2, 2, bias=bias)).double())
    for zero, dtype in ((denoise_loss(model), torch.float64), (denoise_loss(nn.Linear(2, 2).double()), torch.float32)):
        assert zero.shape == () and zero.dtype == dtype and float(zero) == 0.0


def test_denoise_loss_sum_and_per_layer():
    model = add_denoisers(TinyViT().double())
    assert float(denoise_loss(model)) == 0.0 and denoise_loss(model, per_layer=True) == {}
    model.train()(make_inputs()[0])
    torch.manual_seed(1)
    per_layer = denoise_loss(model, per_layer=True)
    assert set(per_layer) == {name for name, _ in denoising_layers(model)}
    model(make_inputs()[0])
    torch.manual_seed(1)  # the same inputs and noise: the same losses
    torch.testing.assert_close(denoise_loss(model), sum(per_layer.values()), rtol=1e-12, atol=0)
    assert float(denoise_loss(model)) == 0.0  # collected: each recorded call counts once
    model.eval()(make_inputs()[0])  # eval records nothing
    assert denoise_loss(model, per_layer=True) == {}


@pytest.mark.parametrize('call, error, message', [
    (lambda: add_denoisers(TinyResNet(), include='nothing.*'), ValueError,
     "no Linear/Conv2d layer matches include='nothing.*', exclude=None"),
    (lambda: add_denoisers(TinyResNet(), layer_types=(nn.BatchNorm2d,)), ValueError,
     'BatchNorm2d is not an nn.Linear or nn.Conv2d (sub)class'),
    (lambda: add_denoisers(TinyResNet(), layer_types=()), ValueError,
     'layer_types must be a non-empty sequence of types, got ()'),
    (lambda: add_denoisers(TinyResNet(), num_steps=6), ValueError, '7 layers need num_steps >= 7, got 6'),
    (lambda: add_denoisers(add_denoisers(TinyResNet())), ValueError,
     'model already has denoising layers; call add_denoisers once per model'),
    (lambda: add_denoisers('resnet'), TypeError, 'expected a torch.nn.Module, got str'),
    (lambda: add_denoisers(TinyResNet(), include=[1]), TypeError,
     'include must be a glob pattern or a sequence of them, got [1]'),
    (lambda: add_denoisers(TinyResNet(), exclude=3), TypeError,
     'exclude must be a glob pattern or a sequence of them, got 3'),
    (lambda: add_denoisers(nn.Sequential(nn.Linear(2, 2), nn.Identity()), include='1',
                           layer_types=(nn.Linear, nn.Identity)), ValueError,
     'Identity is not an nn.Linear or nn.Conv2d (sub)class'),
    (lambda: set_phase(add_denoisers(TinyResNet()), 'train'), ValueError,
     "phase must be one of ('denoise', 'finetune', 'joint'), got 'train'"),
    (lambda: set_phase(TinyResNet(), 'denoise'), ValueError,
     'model has no denoising layers; call add_denoisers first'),
    (lambda: set_phase(None, 'denoise'), TypeError, 'expected a torch.nn.Module, got NoneType'),
    (lambda: fuse_denoisers(TinyResNet()), ValueError, 'model has no denoising layers to fuse'),
    (lambda: fuse_denoisers([]), TypeError, 'expected a torch.nn.Module, got list'),
    (lambda: denoise_loss(3), TypeError, 'expected a torch.nn.Module, got int'),
])
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value) == message


def test_add_denoisers_defaults_to_a_1000_step_schedule_and_passes_noise_loss_to_every_layer():
    """Step 2 of the default schedule by hand: beta_2 = 1e-4 + (2e-3 - 1e-4) / 999 (linear over 1000 steps);
    noise_loss reaches every layer, an attention's in_proj included."""
    model = add_denoisers(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)))
    beta_2 = 1e-4 + 1.9e-3 / 999
    assert model[0].step == 2 and model[0].schedule.alpha_bar == pytest.approx((1 - 1e-4) * (1 - beta_2), abs=1e-15)
    model = add_denoisers(nn.ModuleDict(dict(attn=nn.MultiheadAttention(8, 2), head=nn.Linear(8, 2))),
                          layer_types=(nn.Linear, nn.MultiheadAttention), noise_loss='l2')
    assert {name: layer.noise_loss for name, layer in denoising_layers(model)} == {
        'attn.in_proj': 'l2', 'attn.out_proj': 'l2', 'head': 'l2'}


def test_num_steps_may_equal_the_number_of_layers():
    model = add_denoisers(TinyResNet(), num_steps=7)
    assert sorted(layer.step for _, layer in denoising_layers(model)) == list(range(1, 8))


def test_conversion_logs_what_it_converted_and_what_the_example_forward_skipped(caplog):
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4))
    model.forward = lambda x: model[3](model[0](x))  # 1 and 2 are never called
    with caplog.at_level('INFO', logger='mmdenoiserep.core.convert'):
        add_denoisers(model, num_steps=9, example_inputs=torch.randn(2, 4))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ('WARNING', 'add_denoisers: 2 selected layers are not called by the example forward and stay '
                    'unconverted: 1, 2'),
        ('INFO', 'add_denoisers: converted 2 layers (steps 2..1 of 9)')]
    assert [(name, layer.step) for name, layer in denoising_layers(model)] == [('0', 2), ('3', 1)]
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model.forward = lambda x: x
    with pytest.raises(ValueError) as raised:
        add_denoisers(model, example_inputs=torch.randn(2, 4))
    assert str(raised.value) == 'no selected layer is called by the forward on example_inputs'


def test_finetune_records_no_loss():
    model = add_denoisers(TinyResNet().double())
    set_phase(model, 'finetune')
    model.train()(make_inputs()[0])
    assert denoise_loss(model, per_layer=True) == {} and float(denoise_loss(model)) == 0.0
    zero = denoise_loss(model)  # on the denoisers' device and dtype, a scalar
    assert zero.dtype == torch.float64 and zero.shape == () and not zero.requires_grad
    set_phase(model, 'joint')
    model(make_inputs()[0])
    assert len(denoise_loss(model, per_layer=True)) == len(denoising_layers(model))


def test_unlisted_linear_subclasses_are_reported(caplog):
    class WrappedLinear(nn.Linear):  # as mmcv's wrappers: a subclass with the stock forward
        pass

    model = nn.Sequential(nn.Linear(4, 4), WrappedLinear(4, 4), nn.Conv2d(1, 1, 1))
    with caplog.at_level('WARNING', logger='mmdenoiserep.core.convert'):
        add_denoisers(model, include=['0', '1'])
    assert [type(m).__name__ for m in model] == ['DenoisingLinear', 'WrappedLinear', 'Conv2d']
    assert [r.getMessage() for r in caplog.records] == [
        'add_denoisers: layers of types WrappedLinear subclass nn.Linear/nn.Conv2d but are not in layer_types, '
        'so they stay unconverted; add their types to layer_types to convert them']
    caplog.clear()
    with caplog.at_level('WARNING', logger='mmdenoiserep.core.convert'):
        add_denoisers(nn.Sequential(nn.Linear(4, 4), WrappedLinear(4, 4)), layer_types=(nn.Linear, WrappedLinear))
    assert 'not in layer_types' not in caplog.text


def test_convertible_layers_name_an_attentions_out_proj_once():
    """With nn.MultiheadAttention listed, its out_proj comes with it (as '<attn>.out_proj', once, also when
    its class is listed too); without, the out_proj is an ordinary layer of a listed class."""
    from torch.nn.modules.linear import NonDynamicallyQuantizableLinear as OutProj
    model = nn.ModuleDict(dict(attn=nn.MultiheadAttention(8, 2), head=nn.Linear(8, 2)))
    attention = model['attn']
    for layer_types in [(nn.Linear, nn.MultiheadAttention), (nn.MultiheadAttention, OutProj, nn.Linear)]:
        assert list(convertible_layers(model, layer_types)) == [
            ('attn.in_proj', attention), ('attn.out_proj', attention.out_proj), ('head', model['head'])]
    assert list(convertible_layers(model, (OutProj,))) == [('attn.out_proj', attention.out_proj)]


class WrappedConv(nn.Conv2d):
    pass


@pytest.mark.parametrize('include, exclude, listed', [
    (None, None, 'WrappedConv, WrappedLinear'), ('*', ['1', '3'], 'WrappedConv'), (None, ['1', '2', '3'], None),
    (['0', '2'], None, 'WrappedConv')])
def test_unlisted_subclass_warning_follows_the_name_patterns(caplog, include, exclude, listed):
    """Every unlisted subclass the patterns select, by type name (sorted, each once); an attention's
    out_proj (a Linear subclass converted only with its nn.MultiheadAttention) is never listed."""
    class WrappedLinear(nn.Linear):
        pass

    model = nn.Sequential(nn.Linear(4, 4), WrappedLinear(4, 4), WrappedConv(1, 1, 1), WrappedLinear(4, 4),
                          nn.MultiheadAttention(4, 2), nn.Conv2d(1, 1, 1))
    with caplog.at_level('WARNING', logger='mmdenoiserep.core.convert'):
        add_denoisers(model, include=include, exclude=exclude)
    assert [r.getMessage() for r in caplog.records] == ([] if listed is None else [
        f'add_denoisers: layers of types {listed} subclass nn.Linear/nn.Conv2d but are not in layer_types, '
        'so they stay unconverted; add their types to layer_types to convert them'])


def conv_and_linear(phase):
    """A grouped bias-free conv (step 2) and a Linear (step 1), converted with T = 10, beta in [0.1, 0.3]."""
    model = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2, bias=False), nn.Flatten(), nn.Linear(6, 3))
    add_denoisers(model, num_steps=10, beta_range=(0.1, 0.3), example_inputs=torch.randn(1, 4, 3, 3))
    return set_phase(model, phase)


def hand_coefficients(step):
    """(c3, c1) of ``step`` of that schedule, from method.md: c3 = 1 / sqrt(alpha_t),
    c1 = beta_t / (sqrt(1 - abar_t) sqrt(alpha_t)), beta_k = 0.1 + 0.2 (k - 1) / 9."""
    import math
    betas = [0.1 + 0.2 * k / 9 for k in range(10)]
    alpha_bar = math.prod(1 - beta for beta in betas[:step])
    beta = betas[step - 1]
    return 1 / math.sqrt(1 - beta), beta / (math.sqrt(1 - alpha_bar) * math.sqrt(1 - beta))


def test_repr_shows_each_layer_its_step_coefficients_and_phase():
    """print(model) of a converted model: the stock layer's fields, then step, c3, c1 (6 significant
    digits, from method.md's formulas) and phase; the denoiser's channels, groups and bias."""
    model = conv_and_linear('denoise')

    def expected(step):
        c3, c1 = hand_coefficients(step)
        return f'step={step}, c3={c3:.6g}, c1={c1:.6g}, phase=denoise'

    conv, linear = model[0], model[2]
    assert conv.extra_repr() == f'4, 6, kernel_size=(3, 3), stride=(1, 1), groups=2, bias=False, {expected(2)}'
    assert linear.extra_repr() == f'in_features=6, out_features=3, bias=True, {expected(1)}'
    assert conv.denoiser.extra_repr() == 'channels=4, groups=2, bias=False'  # a layer without b: no a
    assert linear.denoiser.extra_repr() == 'channels=6, groups=1, bias=True'
    assert '(denoiser): AffineDenoiser(channels=6, groups=1, bias=True)' in repr(model)


def test_denoiser_report_is_a_table_of_the_layers_by_step():
    model = conv_and_linear('finetune')

    def c3_c1(step):
        return '{:.6f}  {:.6f}'.format(*hand_coefficients(step))

    assert denoiser_report(model).splitlines() == [
        'layer  type             step  weight   c3        c1        phase   ',
        '-----  ---------------  ----  -------  --------  --------  --------',
        f'0      DenoisingConv2d  2     6x2x3x3  {c3_c1(2)}  finetune',
        f'2      DenoisingLinear  1     3x6      {c3_c1(1)}  finetune']


def test_denoiser_report_orders_rows_by_step_not_by_name():
    """Eleven layers: by name '10' would come before '2'; by step (first executed first) it comes last."""
    model = add_denoisers(nn.Sequential(*[nn.Linear(3, 3) for _ in range(11)]))
    rows = denoiser_report(model).splitlines()[2:]
    assert [row.split()[:3] for row in rows] == [[str(i), 'DenoisingLinear', str(11 - i)] for i in range(11)]
