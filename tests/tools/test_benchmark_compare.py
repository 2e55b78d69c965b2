"""tools/benchmark.py --compare: bad input is one line (the comparison itself: tests/experiments/test_reid_ablations.py,
the post-backbone denoiser next to the fused DenoiseRep model)."""
from tool_helpers import load_tool

benchmark = load_tool('benchmark')
RESNET18 = ['model.backbone.backbone.depth=18', 'model.head.in_channels=512',
            'model.backbone.example_input_shape=[1,3,64,64]']


def test_a_missing_compared_config_is_a_one_line_error(capsys):
    assert benchmark.main(['configs/resnet50_denoiserep_in1k.py', '--tiny', '--no-train', '--compare',
                           'configs/no_such_config.py', '--cfg-options', *RESNET18]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['benchmark.py: error: --compare: config file not found: configs/no_such_config.py']
