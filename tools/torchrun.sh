#!/usr/bin/env bash
# The launcher behind dist_train.sh and dist_test.sh: bash tools/torchrun.sh NPROC SCRIPT [args of SCRIPT]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT as in the OpenMMLab tools.
NPROC=$1
shift
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$@"
