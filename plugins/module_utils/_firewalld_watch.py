# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld's reloads, starts and stops, seen on the system bus: when `container-net firewalld-reload` restores.

`firewall-cmd --reload` asks firewalld over D-Bus, not systemd, so ReloadPropagatedFrom= of the
restore unit never fires for it. A reload, a start and a stop flush every iptables table, the
collection's CNET-* chains and jumps with them: with FirewallBackend=iptables, and with nftables
too in firewalld 1.3 (Debian 12's), which flushes the iptables tables of every backend it has.
firewalld announces each on the system bus, where netavark and Docker listen too:

- the signal `Reloaded` (org.fedoraproject.FirewallD1), sent once a reload is done;
- `NameOwnerChanged` of its bus name: gained when it starts, but *before* it applies its rules,
  so the watcher then asks for its `state` property, which firewalld answers only once started;
  lost when it exits, after its cleanup.

The listener is systemd's `busctl monitor --json=short` (on every systemd host; no D-Bus binding in
the modules' venv): one JSON object per message, filtered by match rules. A signal the watcher
sends itself (`busctl emit`, matched on a token of its own) proves the monitor is subscribed
before anything is restored, so no reload can fall between the first restore and the watching.
Which message means what is pure (`event`, `parse_state`, `plan`); `watch` runs the loop.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

FIREWALLD = 'org.fedoraproject.FirewallD1'
FIREWALLD_PATH = '/org/fedoraproject/FirewallD1'
DBUS = 'org.freedesktop.DBus'
MARK_INTERFACE = 'org.seed.ContainerNet1'
MARK_PATH = '/org/seed/ContainerNet1'
MARK_MEMBER = 'Watching'

# What a message means.
RELOADED = 'reloaded'  # firewalld finished a reload
STARTED = 'started'  # firewalld took its bus name: it is applying its rules now
STOPPED = 'stopped'  # firewalld is gone, its cleanup done
WATCHING = 'watching'  # the watcher's own mark: the monitor is subscribed
RUNNING = 'running'  # (not a message) firewalld was already running when the watching began

REASONS = {RELOADED: "firewalld's reload", STARTED: "firewalld's start", STOPPED: "firewalld's exit",
           RUNNING: 'the watching began (firewalld runs)'}

SUBSCRIBE_TIMEOUT = 30.0  # seconds for the monitor to see its own mark
MARK_INTERVAL = 0.5
START_TIMEOUT = 120.0  # seconds for a starting firewalld to answer RUNNING (or FAILED)
STATE_CALL_TIMEOUT = 30


def match_rules(token):
    """The messages the monitor shows: firewalld's reloads, its bus name changing hands, our mark."""
    return [
        "type='signal',path='%s',interface='%s',member='Reloaded'" % (FIREWALLD_PATH, FIREWALLD),
        "type='signal',sender='%s',path='/org/freedesktop/DBus',interface='%s',member='NameOwnerChanged',arg0='%s'"
        % (DBUS, DBUS, FIREWALLD),
        "type='signal',path='%s',interface='%s',member='%s',arg0='%s'" % (MARK_PATH, MARK_INTERFACE, MARK_MEMBER, token),
    ]


def monitor_argv(busctl, token):
    return [busctl, '--system', 'monitor', '--json=short'] + ['--match=%s' % rule for rule in match_rules(token)]


def mark_argv(busctl, token):
    return [busctl, '--system', 'emit', MARK_PATH, MARK_INTERFACE, MARK_MEMBER, 's', token]


def state_argv(busctl):
    """firewalld's `state` property; never starts firewalld by D-Bus activation."""
    return [busctl, '--system', '--json=short', '--auto-start=no', '--timeout=%d' % STATE_CALL_TIMEOUT,
            'get-property', FIREWALLD, FIREWALLD_PATH, FIREWALLD, 'state']


def event(line, token):
    """What one line of `busctl monitor --json=short` means: RELOADED, STARTED, STOPPED, WATCHING or None.

    Only the message's own fields decide, whatever the match rules let through.
    """
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict) or msg.get('type') != 'signal':
        return None
    payload = msg.get('payload')
    data = payload.get('data') if isinstance(payload, dict) else None
    data = data if isinstance(data, list) else []
    where = (msg.get('path'), msg.get('interface'), msg.get('member'))
    if where == (FIREWALLD_PATH, FIREWALLD, 'Reloaded'):
        return RELOADED
    if where == ('/org/freedesktop/DBus', DBUS, 'NameOwnerChanged') and msg.get('sender') == DBUS:
        if len(data) != 3 or data[0] != FIREWALLD or not all(isinstance(d, str) for d in data):
            return None
        return STARTED if data[2] else STOPPED  # a new owner (also straight from an old one), or none
    if where == (MARK_PATH, MARK_INTERFACE, MARK_MEMBER) and data == [token]:
        return WATCHING
    return None


def parse_state(rc, out):
    """firewalld's state ('INIT', 'RUNNING', 'FAILED') from `busctl --json=short get-property`, None when it is not on the bus."""
    if rc != 0:
        return None
    try:
        value = json.loads(out)
    except ValueError:
        return None
    return value.get('data') if isinstance(value, dict) and isinstance(value.get('data'), str) else None


def plan(events):
    """(wait for firewalld to finish starting, why restore) for a batch of events; why is None: nothing to do.

    Events that arrive together get one restore, after firewalld's start when one of them is that.
    """
    reasons = [e for e in events if e in REASONS]
    if not reasons:
        return False, None
    names = []
    for e in reasons:
        if REASONS[e] not in names:
            names.append(REASONS[e])
    return STARTED in reasons, ', '.join(names)


class Lines:
    """Lines of a pipe, read with a timeout."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b''

    def read(self, timeout):
        """The next line (str), None when none came within `timeout` seconds (None: wait); EOFError at the end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b'\n' not in self.buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise EOFError()
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode('utf-8', 'replace')


def sd_notify(message):
    """Tell systemd (Type=notify) without libsystemd; nothing when not run by systemd."""
    address = os.environ.get('NOTIFY_SOCKET')
    if not address:
        return
    if address.startswith('@'):
        address = '\0' + address[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(address)
        sock.sendall(message.encode('utf-8'))
    finally:
        sock.close()


class Watcher:
    """The loop of `container-net firewalld-reload`; `restore` is the restore command's own code path."""

    def __init__(self, restore, state_path, busctl='busctl', out=None):
        self.restore = restore
        self.state_path = state_path
        self.busctl = busctl
        self.out = out or sys.stdout
        self.token = 'pid%d' % os.getpid()
        self.restoring = False  # SIGTERM then waits for the restore to finish
        self.stopping = False

    def on_sigterm(self, signum, frame):
        """systemctl stop: end now while waiting, after the restore while one runs (never half-way through it)."""
        self.stopping = True
        if not self.restoring:
            raise KeyboardInterrupt()

    def say(self, text):
        self.out.write('container-net firewalld-reload: %s\n' % text)
        self.out.flush()

    def firewalld_state(self):
        out = subprocess.run(state_argv(self.busctl), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, check=False)
        return parse_state(out.returncode, out.stdout)

    def await_started(self):
        """firewalld's state once it has applied its rules (or has gone again: None), within START_TIMEOUT."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            state = self.firewalld_state()  # answered only once firewalld's start is over
            if state != 'INIT' or time.monotonic() > deadline:
                return state
            time.sleep(0.2)

    def handle(self, events):
        wait, why = plan(events)
        if why is None:
            return
        if wait:
            self.say('firewalld started: its rules are in place (state %s)' % self.await_started())
        if not os.path.exists(self.state_path):
            self.say('after %s: no registry yet (%s), nothing to restore' % (why, self.state_path))
            return
        self.say('after %s: restore' % why)
        self.restoring = True
        try:
            rc = self.restore()
        except Exception as e:  # pylint: disable=broad-except
            sys.stderr.write('container-net firewalld-reload: restore failed: %s\n' % e)
            rc = 2
        finally:
            self.restoring = False
        self.out.flush()
        sys.stderr.flush()
        if self.stopping:
            raise KeyboardInterrupt()
        if rc:
            self.say('restore failed (exit %s); watching on, the next firewalld event retries' % rc)

    def subscribe(self, lines):
        """Emit our mark until the monitor shows it; the other events seen meanwhile, or None when it never did."""
        early = []
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
        while time.monotonic() < deadline:
            subprocess.run(mark_argv(self.busctl, self.token), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            until = time.monotonic() + MARK_INTERVAL
            while True:
                line = lines.read(max(0.0, until - time.monotonic()))
                if line is None:
                    break
                what = event(line, self.token)
                if what == WATCHING:
                    return early
                early.append(what)
        return None

    def run(self):
        """Watch until killed; an exit code when the monitor cannot start or ends (systemd restarts the unit)."""
        try:
            proc = subprocess.Popen(monitor_argv(self.busctl, self.token), stdout=subprocess.PIPE)
        except OSError as e:
            sys.stderr.write('container-net firewalld-reload: cannot run %s: %s\n' % (self.busctl, e))
            return 2
        previous = signal.signal(signal.SIGTERM, self.on_sigterm)
        try:
            lines = Lines(proc.stdout.fileno())
            early = self.subscribe(lines)
            if early is None:
                sys.stderr.write('container-net firewalld-reload: the bus monitor did not see its own mark within %ds\n'
                                 % SUBSCRIBE_TIMEOUT)
                return 2
            sd_notify('READY=1')
            self.say('watching firewalld on the system bus (Reloaded, NameOwnerChanged)')
            # Whatever happened while nobody watched: restore now if firewalld runs (the state call
            # waits out a start in progress).
            self.handle(early + ([RUNNING] if self.firewalld_state() is not None else []))
            while True:
                batch, ended = [event(lines.read(None), self.token)], False
                try:
                    while True:  # what came together is handled together
                        line = lines.read(0)
                        if line is None:
                            break
                        batch.append(event(line, self.token))
                except EOFError:
                    ended = True
                self.handle(batch)
                if ended:
                    raise EOFError()
        except EOFError:
            sys.stderr.write('container-net firewalld-reload: the bus monitor ended (exit %s)\n' % proc.wait())
            return 2
        except KeyboardInterrupt:
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)
            if proc.poll() is None:
                proc.terminate()
                proc.wait()


def watch(restore, state_path, busctl='busctl'):
    """`container-net firewalld-reload`: run `restore` after every firewalld reload, start and stop."""
    return Watcher(restore, state_path, busctl).run()
