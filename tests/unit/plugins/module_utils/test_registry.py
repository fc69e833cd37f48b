"""The registry under its lock, with real files and real flock in a temporary directory.

flock belongs to an open file description, so two Registry objects in one process contend like
two runs do; the runs here are threads. Nothing waits by sleeping: the tests order the runs with
events and poll /proc/locks (bounded) until a run is blocked on the lock.
"""

import copy
import json
import os
import stat
import threading
import time

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _registry as reg
from ansible_collections.seed.container_net.plugins.module_utils._registry import Registry, empty_state

TIMEOUT = 10


def poll_until(condition, what):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting until %s' % what)
        time.sleep(0.002)  # a polling interval, not a wait for the condition


def flock_waiters(st):
    """How many flock requests are blocked on the file `st` describes (from /proc/locks)."""
    key = '%02x:%02x:%d' % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    with open('/proc/locks') as f:
        return sum(1 for line in f if ' -> FLOCK ' in line and line.split()[-3] == key)


class Run(threading.Thread):
    """One run of a module, in a thread; outcome() re-raises what the run raised."""

    def __init__(self, fn, *args):
        threading.Thread.__init__(self, daemon=True)
        self.fn, self.args, self.error, self.result = fn, args, None, None
        self.start()

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # handed to the test thread by outcome()
            self.error = e

    def outcome(self):
        self.join(TIMEOUT)
        assert not self.is_alive(), 'run %s is still blocked' % (self.args,)
        if self.error is not None:
            raise self.error
        return self.result


def record(path, **bridges):
    with Registry(path) as r:
        state = copy.deepcopy(r.loaded)  # as a module does: the loaded state is the 'before'
        state['bridges'].update(bridges)
        r.write(state)


def last_run_holding(path, held, go):
    """The run that removes the last object: holds the lock until `go`, then empties the registry."""
    def run():
        with Registry(path) as r:
            held.set()
            assert go.wait(TIMEOUT)
            assert r.write(empty_state())
    return Run(run)


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'registry')


def test_waiters_survive_the_last_run_removing_the_registry(path):
    record(path, br0={'subnet': '10.0.0.0/24'})
    lock = os.path.join(path, reg.LOCK_FILE)
    held, go = threading.Event(), threading.Event()
    holder = last_run_holding(path, held, go)
    assert held.wait(TIMEOUT)
    old_lock = os.stat(lock)

    guard = threading.Lock()
    inside, seen = [], []

    def waiter(name):
        with Registry(path) as r:
            with guard:
                assert not inside, '%s entered while %s held the lock' % (name, inside)
                inside.append(name)
                seen.append((name, sorted(r.loaded['bridges'])))
                first = len(seen) == 1
            if first:  # the other run must now queue on the lock this run holds
                poll_until(lambda: flock_waiters(os.stat(lock)) == 1, 'the second waiter blocks behind the first')
            state = copy.deepcopy(r.loaded)
            state['bridges'][name] = {}
            assert r.write(state)
            with guard:
                inside.remove(name)

    waiters = [Run(waiter, 'a'), Run(waiter, 'b')]
    poll_until(lambda: flock_waiters(old_lock) == 2, 'both waiters block on the lock the last run holds')
    go.set()
    holder.outcome()
    for w in waiters:
        w.outcome()

    (first, first_saw), (second, second_saw) = seen
    assert first_saw == [] and second_saw == [first]  # each saw the state the run before it left
    with Registry(path, create=False) as r:
        assert sorted(r.loaded['bridges']) == ['a', 'b']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600

    with Registry(path) as r:  # the last object goes: so does the registry
        r.write(empty_state())
    assert not os.path.exists(path)


def test_read_only_waiter_proceeds_without_recreating_a_removed_registry(path):
    record(path, br0={})
    lock = os.path.join(path, reg.LOCK_FILE)
    held, go = threading.Event(), threading.Event()
    holder = last_run_holding(path, held, go)
    assert held.wait(TIMEOUT)
    old_lock = os.stat(lock)

    def check_mode_run():
        with Registry(path, create=False) as r:
            return r.loaded

    waiter = Run(check_mode_run)
    poll_until(lambda: flock_waiters(old_lock) == 1, 'the check-mode run blocks on the lock')
    go.set()
    holder.outcome()
    assert waiter.outcome() == empty_state()
    assert not os.path.exists(path)


def test_read_only_run_waits_for_a_writer_and_sees_its_state(path):
    record(path, br0={})
    lock = os.path.join(path, reg.LOCK_FILE)
    held, go = threading.Event(), threading.Event()

    def writer():
        with Registry(path) as r:
            held.set()
            assert go.wait(TIMEOUT)
            state = copy.deepcopy(r.loaded)
            state['bridges']['br1'] = {}
            r.write(state)

    holder = Run(writer)
    assert held.wait(TIMEOUT)

    def check_mode_run():
        with Registry(path, create=False) as r:
            return sorted(r.loaded['bridges'])

    waiter = Run(check_mode_run)
    poll_until(lambda: flock_waiters(os.stat(lock)) == 1, 'the check-mode run blocks on the lock')
    go.set()
    holder.outcome()
    assert waiter.outcome() == ['br0', 'br1']


def test_runs_that_record_nothing_leave_no_directory(path):
    with Registry(path, create=False) as r:
        assert r.loaded == empty_state()
    assert not os.path.exists(path)
    with Registry(path) as r:
        assert os.path.isdir(path)
        assert not r.write(empty_state())  # nothing changed
    assert not os.path.exists(path)


def test_removal_leaves_a_directory_that_holds_other_files(path):
    record(path, br0={})
    other = os.path.join(path, 'operator-notes')
    open(other, 'w').close()
    with Registry(path) as r:
        r.write(empty_state())
    assert sorted(os.listdir(path)) == ['operator-notes']


def test_state_is_written_atomically_and_read_back(path, monkeypatch):
    record(path, br0={'subnet': '10.0.0.0/24', 'name': 'br0 "quoted" \u00e9'})
    with Registry(path, create=False) as r:
        assert r.loaded['bridges'] == {'br0': {'subnet': '10.0.0.0/24', 'name': 'br0 "quoted" \u00e9'}}
        assert r.loaded == dict(empty_state(), bridges=r.loaded['bridges'])
    state_file = os.path.join(path, reg.STATE_FILE)
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    before = open(state_file).read()

    def interrupted(*args):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(reg.os, 'fsync', interrupted)
    with pytest.raises(OSError, match='No space'):
        record(path, br1={})
    monkeypatch.undo()
    assert open(state_file).read() == before
    assert sorted(os.listdir(path)) == [reg.LOCK_FILE, reg.STATE_FILE]  # no temporary file left


def test_readers_never_see_a_partial_state(tmp_path):
    target = str(tmp_path / reg.STATE_FILE)
    states = [json.dumps({'n': i, 'pad': 'x' * (1 << 16) * (i % 2 + 1)}) for i in range(2)]
    reg.write_file_atomic(target, states[0], 0o600, durable=False)
    done = threading.Event()

    def writer():
        try:
            for i in range(300):
                reg.write_file_atomic(target, states[i % 2], 0o600, durable=False)
        finally:
            done.set()

    w = Run(writer)
    reads = 0
    while not done.is_set() or reads == 0:
        with open(target) as f:
            assert f.read() in states
        reads += 1
    w.outcome()
    assert os.listdir(str(tmp_path)) == [reg.STATE_FILE]


def test_a_format_1_registry_is_read_through_its_migration():
    state = reg.parse(json.dumps({'version': 1, 'bridges': {'br0': {'subnet': '10.0.0.0/24'}}}), 'p')
    assert state['version'] == reg.VERSION == 4 and state['bridges'] == {'br0': {'subnet': '10.0.0.0/24'}}
    # rules written before backends were recorded are iptables': auto keeps them there
    assert state['firewall'] == {'created_tables': [], 'backend': 'iptables'}
    assert 'journal' not in state


@pytest.mark.parametrize('journal', [[], {'before': []}, {'before': {'containers': []}}, {'other': {}}])
def test_a_malformed_journal_is_refused_naming_it(journal):
    with pytest.raises(reg.RegistryError, match='malformed journal'):
        reg.parse(json.dumps({'version': 2, 'journal': journal}), '/var/lib/x/state.json')


def container(*veths):
    return {'networks': [{'veth': v, 'ifname': 'eth%d' % i, 'bridge': 'br%d' % i} for i, v in enumerate(veths)]}


def test_with_journal_names_every_object_either_side_had():
    before = dict(empty_state(), bridges={'old': {}, 'both': {'mtu': 1}},
                  containers={'gone': container('v1'), 'moved': container('vA')})
    before['firewall'] = {'created_tables': ['ip filter']}
    target = dict(empty_state(), bridges={'both': {'mtu': 2}, 'new': {}},
                  containers={'moved': container('vB'), 'made': container('v9')})
    merged = reg.with_journal(before, target)
    assert sorted(merged['bridges']) == ['both', 'new', 'old'] and merged['bridges']['both'] == {'mtu': 2}
    assert sorted(merged['containers']) == ['gone', 'made', 'moved']
    # the target's network first (it is what stays), the one only `before` had after it, to be deleted
    assert [n['veth'] for n in merged['containers']['moved']['networks']] == ['vB', 'vA']
    assert merged['firewall']['created_tables'] == ['ip filter']
    assert target['containers']['moved'] == container('vB')  # inputs untouched
    assert reg.with_journal(None, target) is target


def test_begin_leaves_a_journal_that_the_next_run_reads_and_write_closes(path):
    record(path, br0={'subnet': '10.0.0.0/24'})
    with Registry(path) as r:
        before = r.loaded
        target = dict(copy.deepcopy(before), bridges={'br1': {}})
        r.begin(target, before)
        # killed here: the document on disk is the target with the journal of what it replaces
    with Registry(path) as r:
        assert r.loaded == target and r.journal == before
        assert r.write(target)  # the same state, but closing the journal is a write
    with Registry(path) as r:
        assert r.journal is None and r.loaded == target
        assert 'journal' not in json.load(open(os.path.join(path, reg.STATE_FILE)))
        r.begin(target, target)  # nothing a crash could orphan: nothing written
        assert r.journal is None and not r.write(target)
