"""Fixtures for integration tests: a collection tree to import from, and a fresh lab host per test."""

import os
import shutil
import tempfile

import pytest

from labhost import ROOT, Lab


@pytest.fixture(scope='session')
def collections_path():
    """A tree ansible and Python can import the collection from, whatever the checkout is called."""
    tmp = tempfile.mkdtemp(prefix='cnet-coll-')
    os.makedirs(os.path.join(tmp, 'ansible_collections', 'seed'))
    os.symlink(ROOT, os.path.join(tmp, 'ansible_collections', 'seed', 'container_net'))
    yield tmp
    shutil.rmtree(tmp)


@pytest.fixture
def lab(collections_path, tmp_path):
    lab = Lab(collections_path, tmp_path)
    lab.procs = []
    try:
        yield lab
    finally:
        lab.teardown()
