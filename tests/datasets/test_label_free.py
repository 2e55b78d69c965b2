"""Label-free DenoiseRep: a folder of images (UnlabeledImageFolder) trains the denoisers, backbone only."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmdenoiserep.datasets import UnlabeledImageFolder
from mmdenoiserep.utils import InputError, load_checkpoint_file

ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/mask_rcnn_swinv2_t_label_free_coco_unlabeled.py'


def test_folder_lists_images_recursively_and_refuses_empty_or_missing_folders(tmp_path):
    for path in ('b.jpg', 'a.PNG', 'sub/c.jpeg', 'notes.txt'):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b'')
    dataset = UnlabeledImageFolder(data_root=str(tmp_path), data_prefix=dict(img_path=''))
    assert [Path(dataset.get_data_info(i)['img_path']).name for i in range(len(dataset))] == ['a.PNG', 'b.jpg', 'c.jpeg']
    assert [dataset.get_data_info(i)['img_id'] for i in range(3)] == [0, 1, 2]
    with pytest.raises(InputError, match='image folder .*nothing_here not found'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'sub'), data_prefix=dict(img_path='nothing_here'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InputError, match='no image'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'empty'))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_label_free_config_trains_the_denoisers_only(tmp_path):
    """--tiny: the denoisers of Mask R-CNN SwinV2-T train on coco/unlabeled2017 (no annotation file is read);
    every other weight ends exactly as it started."""
    work = tmp_path / 'work'
    result = subprocess.run([sys.executable, 'tools/train.py', CONFIG, '--tiny', '--work-dir', str(work),
                              '--cfg-options', 'randomness.seed=0'], cwd=ROOT, capture_output=True, text=True,
                             timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "phase 'denoise' from epoch 1" in log and "phase 'finetune'" not in log
    pairs = re.findall(r'loss: ([\d.]+)\s+loss_denoise: ([\d.]+)', log)
    assert pairs and all(total == denoise for total, denoise in pairs)  # backbone only: no task loss
    checkpoints = sorted(work.glob('epoch_*.pth'))
    assert len(checkpoints) == 2  # --tiny: 2 epochs, both denoise
    first, last = (load_checkpoint_file(str(p))['state_dict'] for p in checkpoints)
    network = [k for k in first if '.denoiser.' not in k]
    assert all(torch.equal(first[k], last[k]) for k in network)  # nothing of the network moved ...
    assert any(not torch.equal(first[k], last[k]) for k in first if '.denoiser.' in k)  # ... the denoisers did
