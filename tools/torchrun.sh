#!/usr/bin/env bash
# The launcher behind dist_train.sh and dist_test.sh: bash tools/torchrun.sh NPROC SCRIPT [args of SCRIPT]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT as in the OpenMMLab tools.
# When the run fails, the one-line error of the lowest rank that wrote one (the tools write it to
# $MMDENOISEREP_ERROR_FILE.rank<RANK>) is printed last, under torchrun's report; the exit status is torchrun's.
NPROC=$1
shift
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

ERRORS=$(mktemp -d)
trap 'rm -rf "$ERRORS"' EXIT
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH MMDENOISEREP_ERROR_FILE="$ERRORS/error" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$@"
STATUS=$?
if [ "$STATUS" -ne 0 ]; then
    FIRST=$(ls "$ERRORS" | sort -t k -k 2 -n | head -n 1)
    [ -n "$FIRST" ] && cat "$ERRORS/$FIRST" >&2
fi
exit "$STATUS"
