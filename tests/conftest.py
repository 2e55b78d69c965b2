"""Fixtures shared by the test modules."""
import socket

import pytest
import torch.distributed as dist


@pytest.fixture
def process_group(monkeypatch):
    """A one-process gloo group with torchrun's environment (a runner with launcher='pytorch' joins it)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    for name, value in dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK='0', WORLD_SIZE='1',
                            LOCAL_RANK='0').items():
        monkeypatch.setenv(name, value)
    dist.init_process_group('gloo', rank=0, world_size=1)
    yield
    dist.destroy_process_group()
