"""Two runners started in one process within the same second keep their own logger, message hub and
visualizer (mmengine names these instances by experiment name and a timestamp in seconds: shared, the
second runner wrote into the first's work dir, which a test may already have deleted)."""
import mmengine.runner.runner as mmengine_runner
from runner_helpers import classifier_cfg

from mmdenoiserep.apis import build_runner


def test_runners_started_in_the_same_second_do_not_share_instances(tmp_path, monkeypatch):
    monkeypatch.setattr(mmengine_runner.time, 'strftime', lambda fmt, *args: '20261203_120000')
    first = build_runner(classifier_cfg(tmp_path / 'first'))
    second = build_runner(classifier_cfg(tmp_path / 'second'))
    assert first.timestamp == second.timestamp
    assert second.visualizer is not first.visualizer
    assert second.logger is not first.logger and second.message_hub is not first.message_hub
    second.visualizer.add_scalars({'probe': 1.0}, step=1)  # written by its LocalVisBackend
    assert list((tmp_path / 'second').rglob('vis_data/scalars.json'))
    assert not list((tmp_path / 'first').rglob('vis_data/scalars.json'))
