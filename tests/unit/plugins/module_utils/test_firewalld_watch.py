"""Which bus message means "firewalld reloaded, started or stopped", and the watch loop around it.

The JSON lines are what `busctl monitor --json=short` (systemd 252, Debian 12) printed on a machine
running firewalld 1.3 for `firewall-cmd --reload` and `systemctl restart firewalld`. The loop runs
against a stand-in busctl (a script printing such lines); nothing here touches a real bus.
"""

import json
import os
import signal
import socket
import sys
import threading
import time

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _firewalld_watch as fw

RELOADED_LINE = (
    '{"type":"signal","endian":"l","flags":1,"version":1,"cookie":610,"timestamp-realtime":1796171130500876,'
    '"sender":":1.5","path":"/org/fedoraproject/FirewallD1","interface":"org.fedoraproject.FirewallD1",'
    '"member":"Reloaded","payload":{"type":"","data":[]}}')


def owner_changed(old, new, name='org.fedoraproject.FirewallD1', sender='org.freedesktop.DBus'):
    return json.dumps({
        'type': 'signal', 'endian': 'l', 'flags': 1, 'version': 1, 'cookie': 78, 'sender': sender,
        'path': '/org/freedesktop/DBus', 'interface': 'org.freedesktop.DBus', 'member': 'NameOwnerChanged',
        'payload': {'type': 'sss', 'data': [name, old, new]}})


def mark(token):
    return json.dumps({
        'type': 'signal', 'endian': 'l', 'flags': 1, 'version': 1, 'cookie': 2, 'sender': ':1.11',
        'path': '/org/seed/ContainerNet1', 'interface': 'org.seed.ContainerNet1', 'member': 'Watching',
        'payload': {'type': 's', 'data': [token]}})


# ---- which message means what ---------------------------------------------------------------------

def test_reloaded_signal_is_a_reload():
    assert fw.event(RELOADED_LINE, 'pid1') == fw.RELOADED


def test_firewalld_taking_its_name_is_a_start_and_losing_it_an_exit():
    assert fw.event(owner_changed('', ':1.13'), 'pid1') == fw.STARTED
    assert fw.event(owner_changed(':1.5', ''), 'pid1') == fw.STOPPED
    assert fw.event(owner_changed(':1.5', ':1.13'), 'pid1') == fw.STARTED  # handed straight to a new process


def test_other_names_and_forged_owner_changes_mean_nothing():
    assert fw.event(owner_changed('', ':1.20', name='org.freedesktop.NetworkManager'), 'pid1') is None
    assert fw.event(owner_changed('', ':1.20', sender=':1.42'), 'pid1') is None  # only the bus itself says so
    forged = json.loads(owner_changed('', ':1.13'))
    forged['payload']['data'] = ['org.fedoraproject.FirewallD1', '']
    assert fw.event(json.dumps(forged), 'pid1') is None


def test_reloaded_elsewhere_or_not_a_signal_means_nothing():
    other = json.loads(RELOADED_LINE)
    other['interface'] = 'org.example.Other'
    assert fw.event(json.dumps(other), 'pid1') is None
    call = json.loads(RELOADED_LINE)
    call['type'] = 'method_call'
    assert fw.event(json.dumps(call), 'pid1') is None
    wrong_path = json.loads(RELOADED_LINE)
    wrong_path['path'] = '/org/fedoraproject/FirewallD1/config'
    assert fw.event(json.dumps(wrong_path), 'pid1') is None


@pytest.mark.parametrize('line', ['', 'Monitoring bus message stream.', '{"type": "signal"', '[1, 2]', 'null',
                                  '{"type":"signal","payload":"x","path":null}'])
def test_what_is_not_a_message_means_nothing(line):
    assert fw.event(line, 'pid1') is None


def test_the_mark_counts_only_with_our_own_token():
    assert fw.event(mark('pid1'), 'pid1') == fw.WATCHING
    assert fw.event(mark('pid2'), 'pid1') is None  # another watcher's


def test_match_rules_cover_the_three_messages_and_go_to_busctl_monitor():
    rules = fw.match_rules('pid7')
    assert "member='Reloaded'" in rules[0] and "interface='org.fedoraproject.FirewallD1'" in rules[0]
    assert "member='NameOwnerChanged'" in rules[1] and "arg0='org.fedoraproject.FirewallD1'" in rules[1]
    assert "sender='org.freedesktop.DBus'" in rules[1]
    assert "arg0='pid7'" in rules[2]
    argv = fw.monitor_argv('busctl', 'pid7')
    assert argv[:4] == ['busctl', '--system', 'monitor', '--json=short']
    assert argv[4:] == ['--match=' + r for r in rules]
    assert fw.mark_argv('busctl', 'pid7')[-2:] == ['s', 'pid7']
    assert '--auto-start=no' in fw.state_argv('busctl')  # asking never starts firewalld


@pytest.mark.parametrize('rc, out, state', [
    (0, '{"type":"s","data":"RUNNING"}\n', 'RUNNING'),
    (0, '{"type":"s","data":"INIT"}', 'INIT'),
    (1, '', None),  # not on the bus
    (0, 's "RUNNING"', None),
    (0, '{"type":"b","data":true}', None),
])
def test_firewalld_state(rc, out, state):
    assert fw.parse_state(rc, out) == state


def test_plan_gives_one_restore_per_batch_after_a_start():
    assert fw.plan([]) == (False, None)
    assert fw.plan([None, fw.WATCHING]) == (False, None)
    assert fw.plan([fw.RELOADED]) == (False, "firewalld's reload")
    assert fw.plan([fw.RELOADED, None, fw.RELOADED]) == (False, "firewalld's reload")
    assert fw.plan([fw.STOPPED, fw.STARTED]) == (True, "firewalld's exit, firewalld's start")
    assert fw.plan([fw.RUNNING]) == (False, 'the watching began (firewalld runs)')


# ---- lines of a pipe -------------------------------------------------------------------------------

def test_lines_come_whole_time_out_and_end():
    r, w = os.pipe()
    try:
        lines = fw.Lines(r)
        os.write(w, b'{"a": 1}\n{"b"')
        assert lines.read(1) == '{"a": 1}'
        assert lines.read(0) is None  # half a line is not a line
        os.write(w, b': 2}\n')
        assert lines.read(1) == '{"b": 2}'
        os.close(w)
        w = None
        with pytest.raises(EOFError):
            lines.read(1)
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


# ---- the loop, against a stand-in busctl --------------------------------------------------------------

FAKE_BUSCTL = r'''#!%(python)s
import json, os, re, sys
log = os.environ['FAKE_BUSCTL_LOG']
with open(log, 'a') as f:
    f.write(' '.join(sys.argv[1:]) + '\n')
if 'monitor' in sys.argv:
    token = re.search(r"arg0='(pid\d+)'", sys.argv[-1]).group(1)
    sys.stdout.write('%%s\n' %% json.dumps({'type': 'signal', 'sender': ':1.9', 'path': '/org/seed/ContainerNet1',
                                            'interface': 'org.seed.ContainerNet1', 'member': 'Watching',
                                            'payload': {'type': 's', 'data': [token]}}))
    for line in os.environ['FAKE_BUSCTL_LINES'].split('|'):
        sys.stdout.write(line + '\n')
    sys.stdout.flush()
elif 'get-property' in sys.argv:
    state = os.environ['FAKE_FIREWALLD_STATE']
    if not state:
        sys.exit(1)
    sys.stdout.write(json.dumps({'type': 's', 'data': state}) + '\n')
'''


@pytest.fixture
def busctl(tmp_path, monkeypatch):
    path = tmp_path / 'busctl'
    path.write_text(FAKE_BUSCTL % {'python': sys.executable})
    path.chmod(0o755)
    monkeypatch.setenv('FAKE_BUSCTL_LOG', str(tmp_path / 'calls'))
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    return str(path)


def run_watcher(busctl, tmp_path, monkeypatch, lines, state, registry=True):
    monkeypatch.setenv('FAKE_BUSCTL_LINES', '|'.join(lines))
    monkeypatch.setenv('FAKE_FIREWALLD_STATE', state)
    state_path = tmp_path / 'state.json'
    if registry:
        state_path.write_text('{}')
    restores = []
    out = tmp_path / 'out'
    with open(str(out), 'w') as f:
        watcher = fw.Watcher(lambda: restores.append(1) or 0, str(state_path), busctl, out=f)
        rc = watcher.run()
    return rc, len(restores), out.read_text(), (tmp_path / 'calls').read_text()


def test_restores_at_start_when_firewalld_runs_and_after_each_event(busctl, tmp_path, monkeypatch):
    rc, restores, out, calls = run_watcher(busctl, tmp_path, monkeypatch, [RELOADED_LINE], 'RUNNING')
    assert rc == 2  # the monitor ended: the unit restarts the watcher
    assert restores == 2  # firewalld ran when the watching began, then its reload
    assert 'after the watching began (firewalld runs): restore' in out
    assert "after firewalld's reload: restore" in out
    calls = calls.splitlines()  # the monitor and the mark's emit run side by side: either may log first
    assert any(c.startswith('--system monitor --json=short --match=') for c in calls)
    assert any(c.startswith('--system emit /org/seed/ContainerNet1 org.seed.ContainerNet1 Watching s pid') for c in calls)


def test_no_restore_at_start_without_firewalld_then_one_for_a_restart(busctl, tmp_path, monkeypatch):
    # stopped and started again, both already in the pipe when the loop looks: one restore, after the start
    rc, restores, out, calls = run_watcher(busctl, tmp_path, monkeypatch,
                                           [owner_changed(':1.5', ''), owner_changed('', ':1.13')], '')
    assert restores == 1
    assert "after firewalld's exit, firewalld's start: restore" in out
    assert 'firewalld started: its rules are in place (state None)' in out


def test_nothing_restored_without_a_registry(busctl, tmp_path, monkeypatch):
    rc, restores, out, calls = run_watcher(busctl, tmp_path, monkeypatch, [RELOADED_LINE], 'RUNNING', registry=False)
    assert restores == 0
    assert 'no registry yet' in out


def test_a_failing_restore_does_not_end_the_watching(busctl, tmp_path, monkeypatch):
    monkeypatch.setenv('FAKE_BUSCTL_LINES', '|'.join([RELOADED_LINE, owner_changed(':1.5', '')]))
    monkeypatch.setenv('FAKE_FIREWALLD_STATE', 'RUNNING')
    (tmp_path / 'state.json').write_text('{}')
    calls = []

    def restore():
        calls.append(1)
        raise RuntimeError('corrupt registry')
    out = tmp_path / 'out'
    with open(str(out), 'w') as f:
        assert fw.Watcher(restore, str(tmp_path / 'state.json'), busctl, out=f).run() == 2
    assert len(calls) == 2  # at the start, then once for the reload and the exit that came together
    assert out.read_text().count('restore failed') == 2


def test_ready_is_told_to_systemd_once_subscribed(busctl, tmp_path, monkeypatch):
    address = str(tmp_path / 'notify')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    try:
        monkeypatch.setenv('FAKE_BUSCTL_LINES', '')
        monkeypatch.setenv('FAKE_FIREWALLD_STATE', '')
        monkeypatch.setenv('NOTIFY_SOCKET', address)
        with open(str(tmp_path / 'out'), 'w') as f:
            fw.Watcher(lambda: 0, str(tmp_path / 'state.json'), busctl, out=f).run()
        sock.settimeout(5)
        assert sock.recv(64) == b'READY=1'
    finally:
        sock.close()


def test_missing_busctl_is_an_error(tmp_path):
    with open(str(tmp_path / 'out'), 'w') as f:
        assert fw.Watcher(lambda: 0, str(tmp_path / 'state.json'), str(tmp_path / 'no-busctl'), out=f).run() == 2


def test_sigterm_ends_the_watching_and_its_monitor(tmp_path, monkeypatch):
    """The monitor that never ends: SIGTERM (systemctl stop) ends both, exit 0."""
    busctl = tmp_path / 'busctl'
    pidfile = tmp_path / 'monitor.pid'
    busctl.write_text(r'''#!%s
import json, os, re, signal, sys
if 'monitor' in sys.argv:
    open(%r, 'w').write(str(os.getpid()))
    token = re.search(r"arg0='(pid\d+)'", sys.argv[-1]).group(1)
    print(json.dumps({'type': 'signal', 'path': '/org/seed/ContainerNet1', 'interface': 'org.seed.ContainerNet1',
                      'member': 'Watching', 'payload': {'type': 's', 'data': [token]}}), flush=True)
    signal.pause()  # until terminated
elif 'get-property' in sys.argv:
    sys.exit(1)
''' % (sys.executable, str(pidfile)))
    busctl.chmod(0o755)
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    with open(str(tmp_path / 'out'), 'w') as f:
        watcher = fw.Watcher(lambda: 0, str(tmp_path / 'state.json'), str(busctl), out=f)

        def stop_when_watching():
            deadline = time.monotonic() + 10  # bounded poll
            while 'watching firewalld' not in (tmp_path / 'out').read_text() and time.monotonic() < deadline:
                threading.Event().wait(0.05)  # a polling interval
            os.kill(os.getpid(), signal.SIGTERM)
        stopper = threading.Thread(target=stop_when_watching)
        stopper.start()
        rc = watcher.run()
        stopper.join()
    assert rc == 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handed back as it was
    pid = int(pidfile.read_text())
    with pytest.raises(OSError):
        os.kill(pid, 0)  # the monitor was terminated and reaped


def test_sigterm_during_a_restore_lets_it_finish_then_ends(busctl, tmp_path, monkeypatch):
    """Interrupting a restore half-way (pyroute2 in the middle of a netlink exchange) could hang the process."""
    monkeypatch.setenv('FAKE_BUSCTL_LINES', RELOADED_LINE)
    monkeypatch.setenv('FAKE_FIREWALLD_STATE', 'RUNNING')
    (tmp_path / 'state.json').write_text('{}')
    steps = []

    def restore():
        steps.append('begun')
        os.kill(os.getpid(), signal.SIGTERM)  # systemctl stop, while restore runs
        steps.append('finished')
        return 0
    with open(str(tmp_path / 'out'), 'w') as f:
        rc = fw.Watcher(restore, str(tmp_path / 'state.json'), busctl, out=f).run()
    assert rc == 0
    assert steps == ['begun', 'finished']  # the first restore finished, and no second one began
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
