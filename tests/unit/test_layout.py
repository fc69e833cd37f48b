"""The suite's own layout: pytest imports test modules by basename (rootdir-relative, no packages),
so two files of one basename under tests/unit and tests/integration stop the whole run at collection."""

import collections
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_test_module_has_a_basename_of_its_own():
    seen = collections.defaultdict(list)
    for dirpath, dummy, names in os.walk(TESTS):
        if 'output' in dirpath.split(os.sep):
            continue
        for name in names:
            if name.endswith('.py') and (name.startswith('test_') or name in ('labhost.py', 'oracle.py', 'probe.py')):
                seen[name].append(os.path.relpath(os.path.join(dirpath, name), TESTS))
    assert [paths for paths in seen.values() if len(paths) > 1] == []
