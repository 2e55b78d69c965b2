#!/usr/bin/env bash
# Distributed training with torchrun: bash tools/dist_train.sh CONFIG GPUS [extra args of tools/train.py]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT as in the OpenMMLab tools.
CONFIG=$1
GPUS=$2
exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
