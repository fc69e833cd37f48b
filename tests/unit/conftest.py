"""Make the collection importable as ansible_collections.seed.container_net from any checkout path."""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_tree = tempfile.mkdtemp(prefix='cnet-unit-')
os.makedirs(os.path.join(_tree, 'ansible_collections', 'seed'))
os.symlink(ROOT, os.path.join(_tree, 'ansible_collections', 'seed', 'container_net'))
sys.path.insert(0, _tree)
