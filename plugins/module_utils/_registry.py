# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-local state of the collection: one JSON document under an exclusive file lock.

The registry is the source of truth from which firewall rules, hosts and env files are rendered,
so a run that changes one object re-renders everything that depends on it (no stale links).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import errno
import fcntl
import json
import os
import tempfile

from ansible_collections.seed.container_net.plugins.module_utils._errors import RegistryError

DEFAULT_REGISTRY_DIR = '/var/lib/container_net'
STATE_FILE = 'state.json'
LOCK_FILE = 'lock'
# Every temporary file we write starts so: one left by a killed run is ours to remove.
TMP_PREFIX = '.cnet-'
EMPTY_STATE = {'version': 4, 'bridges': {}, 'containers': {}, 'links': {}, 'ports': {}, 'remote': {},
               'firewall': {'created_tables': []}}


def empty_state():
    return copy.deepcopy(EMPTY_STATE)


class Registry:
    """The state document, read and written under `flock` so concurrent runs serialize.

    In check mode nothing may change on the host, so a missing directory is not created and
    the state reads as empty.
    """

    def __init__(self, path=DEFAULT_REGISTRY_DIR, create=True):
        self.path = path
        self.create = create
        self._lock_fd = None
        self.loaded = None
        self.journal = None

    @property
    def state_path(self):
        return os.path.join(self.path, STATE_FILE)

    def __enter__(self):
        self._lock_fd = self._lock()
        state = self.read()
        # A journal is left by a run that began applying and did not finish: the host holds
        # objects of the state before it (`before`) and of the one it aimed at (the document).
        journal = state.pop('journal', None)
        self.journal = journal['before'] if journal else None
        self.loaded = state
        return self

    def _lock(self):
        """An fd holding flock on the inode at `<dir>/lock` now, or None (read-only, no registry).

        The run that leaves the registry empty removes the lock and the directory while it still
        holds the lock (in __exit__), so a run that was waiting wakes on an unlinked inode: it
        retries on the path, recreating what is gone, until the inode it locked is the one there.
        """
        lock = os.path.join(self.path, LOCK_FILE)
        while True:
            if self.create:
                os.makedirs(self.path, mode=0o700, exist_ok=True)
            try:
                fd = os.open(lock, (os.O_RDWR | os.O_CREAT) if self.create else os.O_RDONLY, 0o600)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
                if self.create:
                    continue  # removed between makedirs and open
                return None  # nothing to read, and check mode creates nothing
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held = os.fstat(fd)
                try:
                    now = os.stat(lock)
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        raise
                    now = None
            except BaseException:
                os.close(fd)
                raise
            # The open fd keeps the inode alive, so its number cannot have been reused.
            if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                return fd
            os.close(fd)

    def __exit__(self, *exc):
        if self._lock_fd is None:
            return
        try:
            if self.create and not os.path.exists(self.state_path):
                # Nothing recorded: leave no trace. The lock goes before it is released, so every
                # waiter wakes on a stale inode and retries (_lock); the state file went first.
                _unlink(os.path.join(self.path, LOCK_FILE))
                try:
                    os.rmdir(self.path)
                except OSError:
                    pass  # other files of the operator's: leave the directory
        finally:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def read(self):
        try:
            with open(self.state_path) as f:
                text = f.read()
        except (IOError, OSError) as e:
            if e.errno != errno.ENOENT:
                raise
            return empty_state()
        return parse(text, self.state_path)

    def begin(self, state, before):
        """Record, durably and before the host is touched, the state a run aims at together with
        everything that may be on the host while it applies (`before`): killed or failed half-way,
        the run leaves a registry that still names every object, and the next run (or restore)
        finishes it or removes what is no longer wanted. Nothing is written when there is nothing
        that a crash could orphan."""
        if state == before and self.journal is None:
            return
        self._store(dict(state, journal={'before': before}))
        self.journal, self.loaded = before, copy.deepcopy(state)

    def write(self, state):
        """Replace the document atomically (closing a journal); an empty registry removes its file
        (and, on leaving the lock, the lock and the directory)."""
        if state == self.loaded and self.journal is None:
            return False
        if is_empty(state):
            _unlink(self.state_path)
        else:
            self._store(state)
        self.journal, self.loaded = None, copy.deepcopy(state)
        return True

    def _store(self, document):
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        write_file_atomic(self.state_path, json.dumps(document, indent=1, sort_keys=True) + '\n', 0o600)


# Each step takes a document of the version it is keyed by to the next one; a registry written by
# an older collection is read through them, one written by a newer one is refused.
MIGRATIONS = {
    # 2 adds the optional `journal` of an unfinished run; a format-1 document has none. Format 1
    # readers would ignore a journal and orphan what it names, so they must refuse a 2.
    1: lambda state: dict(state, version=2),
    # 3 records the firewall backend (`firewall.backend`). Rules written before it are iptables';
    # a format-2 reader would ignore an nftables record and write iptables rules beside the table.
    2: lambda state: _record_backend(dict(state, version=3), 'iptables'),
    # 4 may hold dual-stack bridges (subnet_v6, ip6 leases, ip6tables tables in
    # `created_tables6`) and overlays (a bridge's `overlay`, other hosts' containers in `remote`):
    # a format-3 reader would drop them silently. Nothing to convert.
    3: lambda state: dict(state, version=4),
}


def _record_backend(state, backend):
    if state.get('bridges'):
        record = {'created_tables': []}
        record.update(state.get('firewall') or {})
        record['backend'] = backend
        state['firewall'] = record
    return state


VERSION = EMPTY_STATE['version']


def with_journal(before, state):
    """What may be on the host after an unfinished run: every object of `state` (the target) and of
    `before`; a container in both keeps the target's record plus the networks (veths) only
    `before` had, so that the planner deletes them. Planning uses this as the `old` side only."""
    if before is None:
        return state
    merged = copy.deepcopy(state)
    for kind in ('bridges', 'containers', 'links', 'ports', 'remote'):
        for key, record in before.get(kind, {}).items():
            if key not in merged[kind]:
                merged[kind][key] = copy.deepcopy(record)
            elif kind == 'containers':
                veths = set(n['veth'] for n in merged[kind][key].get('networks', []))
                merged[kind][key]['networks'] = merged[kind][key].get('networks', []) + [
                    copy.deepcopy(n) for n in record.get('networks', []) if n['veth'] not in veths]
    for key in ('created_tables', 'created_tables6'):
        tables = set(merged['firewall'].get(key, [])) | set(before.get('firewall', {}).get(key, []))
        if tables:
            merged['firewall'][key] = sorted(tables)
    return merged


def parse(text, path):
    """The registry document in `text`, migrated to this version; RegistryError where it is not one."""
    def refuse(why):
        raise RegistryError('registry %s %s: refusing to act on it (nothing was changed). Restore it from a '
                            'backup, or move it away to start from an empty registry' % (path, why))
    try:
        state = json.loads(text)
    except ValueError as e:
        refuse('is corrupt or truncated (%s)' % e)
    if not isinstance(state, dict) or not isinstance(state.get('version'), int):
        refuse('is not a registry document (no version)')
    if state['version'] > VERSION:
        refuse('was written by a newer seed.container_net (format %d; this one reads up to %d)'
               % (state['version'], VERSION))
    while state['version'] < VERSION:
        state = MIGRATIONS[state['version']](state)
    for key, value in EMPTY_STATE.items():
        state.setdefault(key, copy.deepcopy(value))
        if not isinstance(state[key], type(value)):
            refuse('has a malformed %s' % key)
    journal = state.get('journal')
    if journal is not None and not (isinstance(journal, dict) and isinstance(journal.get('before'), dict)):
        refuse('has a malformed journal')
    if journal is not None:
        for key, value in EMPTY_STATE.items():
            journal['before'].setdefault(key, copy.deepcopy(value))
            if not isinstance(journal['before'][key], type(value)):
                refuse('has a malformed journal (%s)' % key)
    return state


def _unlink(path):
    try:
        os.unlink(path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise


def is_empty(state):
    return not any(state.get(k) for k in ('bridges', 'containers', 'links', 'ports', 'remote')) \
        and not state.get('firewall', {}).get('created_tables') \
        and not state.get('firewall', {}).get('created_tables6')


def stale_temp_files(directory):
    """Temporary files a run killed between write and rename left in `directory` (callers hold
    the registry lock, so no live run is writing one)."""
    try:
        names = os.listdir(directory)
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        return []
    return sorted(os.path.join(directory, n) for n in names if n.startswith(TMP_PREFIX))


def write_file_atomic(path, content, mode, durable=True):
    """Write through a temporary file and rename, so readers never see half a file. `durable`
    also syncs it to disk first: the registry needs that; files any run re-renders do not."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'w') as f:
            f.write(content)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.rename(tmp, path)
        if durable:  # the rename itself must survive a crash too
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
