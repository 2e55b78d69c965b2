# VMamba-S on ImageNet-1k: the DenoiseRep baseline. Thin file: the VMamba-T baseline (its header says which VMamba
# and the training) with VMamba-S[s2l15] (classification/configs/vssm/vmambav2_small_224.yaml, vssm1_small_0229: 50M,
# official 83.6 acc@1): embed 96, depths 2-2-15-2, ssm_ratio 2.0, drop path 0.3.
# Paper: acc@1 83.12 -> 83.27, acc@5 96.04 -> 96.22. Known gap: 83.12 is 0.5 below the official 83.6 (the s1l20
# VMamba-S, 49M parameters, reports 83.3).
#   wget https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_small_0229_ckpt_epoch_222.pth
#   python tools/model_converters/vmamba_to_mmpretrain.py vssm_small_0229_ckpt_epoch_222.pth \
#       pretrain/vmamba_small_in1k.pth --arch small
_base_ = './vmamba_t_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.3), head=dict(in_channels=768))
