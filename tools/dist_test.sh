#!/usr/bin/env bash
# Distributed test with torchrun: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [extra args of tools/test.py]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT as in the OpenMMLab tools.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
