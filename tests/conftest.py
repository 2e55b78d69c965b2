"""Fixtures shared by the test modules, and the test order under mutation testing."""
import json
import os
import shutil
import socket
from collections import defaultdict

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


@pytest.fixture(autouse=True)
def free_tmp_path(request):
    """Delete a test's ``tmp_path`` when the test ends. pytest keeps every ``tmp_path`` of a session, and
    the end-to-end runs write checkpoints of full-size models (up to ~1 GB each): kept, they filled CI's
    disk. Session-scoped builds (``tmp_path_factory``) are shared and stay."""
    yield
    path = request.node.funcargs.get('tmp_path')
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Under mutation testing (mutmut sets MUTANT_UNDER_TEST and runs in mutants/, next to its
    mutmut-stats.json), run the cheapest test modules first, and in each module the fastest tests first:
    with ``-x`` a mutant is killed by the first test that fails, and most fail in the unit tests. Modules
    stay together, so module-scoped fixtures are built once."""
    if os.environ.get('MUTANT_UNDER_TEST', 'stats') in ('', 'stats', 'fail') or not os.path.isfile(
            'mutmut-stats.json'):
        return
    with open('mutmut-stats.json', encoding='utf-8') as f:
        durations = json.load(f).get('duration_by_test', {})
    cost = defaultdict(float)
    for item in items:
        cost[item.nodeid.split('::')[0]] += durations.get(item.nodeid, 0.0)
    items.sort(key=lambda item: (cost[item.nodeid.split('::')[0]], item.nodeid.split('::')[0],
                                 durations.get(item.nodeid, 0.0)))
