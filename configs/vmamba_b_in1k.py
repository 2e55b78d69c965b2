# VMamba-B on ImageNet-1k: the DenoiseRep baseline. Thin file: the VMamba-T baseline (its header says which VMamba
# and the training) with VMamba-B[s2l15] (classification/configs/vssm/vmambav2_base_224.yaml, vssm1_base_0229: 89M,
# official 83.9 acc@1): embed 128, depths 2-2-15-2, ssm_ratio 2.0, drop path 0.6.
# Paper: acc@1 83.83 -> 83.91, acc@5 96.55 -> 96.70. Known gap: 83.83 is 0.1 below the official 83.9.
#   wget https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_base_0229_ckpt_epoch_237.pth
#   python tools/model_converters/vmamba_to_mmpretrain.py vssm_base_0229_ckpt_epoch_237.pth \
#       pretrain/vmamba_base_in1k.pth --arch base
_base_ = './vmamba_t_in1k.py'

model = dict(backbone=dict(arch='base', drop_path_rate=0.6), head=dict(in_channels=1024))
