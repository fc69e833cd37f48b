# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard under an encrypted overlay: one link per overlay and host, its peers the other members.

- The private key is generated on the host (`wg genkey`) into the registry, mode 0600, and never
  leaves it; the public key is a fact of the run, which the topology role hands to the other
  members (their `hosts[].wireguard`). A peer whose key is not known yet is left out of the
  configuration until a later run (the role's second phase) gives it.
- The link is the kernel's (`wireguard` link kind) where the kernel has it, else wireguard-go's TUN
  link (a transient systemd unit where systemd is PID 1, else a daemon of its own). Either way `wg`
  reads and writes its configuration, and deleting the link ends it.
- The configuration is compared with `wg show dump` (the format `wg` keeps for scripts) and written
  whole, in one `wg syncconf`: peers no longer wanted go in the same write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import shutil
import subprocess
import tempfile
import time

from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._netlink import NetlinkError

KEY_DIR = 'wireguard'
KINDS = ('wireguard', 'tun')
START_TIMEOUT = 10


def ifname(bridge, underlay):
    """The overlay's WireGuard link: 'wg' and a digest of the bridge and this host's underlay address
    (wireguard-go's control socket is named for the link in a directory that hosts sharing a file
    system, such as test namespaces, share)."""
    return 'wg' + hashlib.sha1(('%s@%s' % (bridge, underlay)).encode('utf-8')).hexdigest()[:11]


def key_path(registry_dir, bridge):
    return os.path.join(registry_dir, KEY_DIR, bridge + '.key')


def kernel_module():
    """The kernel has WireGuard (built in, loaded, or loadable)."""
    if os.path.isdir('/sys/module/wireguard'):
        return True
    modprobe = shutil.which('modprobe')
    return bool(modprobe) and subprocess.call([modprobe, '-n', '-q', 'wireguard'], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL) == 0


def check_tools(field):
    """Refuse an encrypted overlay before any change where the host cannot run it."""
    if not shutil.which('wg'):
        raise ParamError('%s.encrypted: wg is not installed on this host (package wireguard-tools)' % field)
    if not kernel_module() and not shutil.which('wireguard-go'):
        raise ParamError('%s.encrypted: this kernel has no WireGuard module and wireguard-go is not installed '
                         '(package wireguard-go)' % field)


def public_key(registry_dir, bridge):
    """This host's public key of an overlay (None before its first run made the private key)."""
    path = key_path(registry_dir, bridge)
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as f:
        return _wg(['pubkey'], f.read(), secret=True).strip()


def _wg(args, data=None, secret=False):
    """Run wg; `secret`: its input holds a private key, which wg may echo in an error (left out)."""
    proc = subprocess.run(['wg'] + args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode:
        said = 'exit status %d' % proc.returncode if secret else proc.stderr.decode('utf-8', 'replace').strip()
        raise OSError('wg %s: %s' % (args[0], said or 'failed'))
    return proc.stdout.decode('ascii')


# ---- configuration (pure) ------------------------------------------------------------------------

def wanted(overlay):
    """(listen port, {peer public key: (endpoint, allowed IPs)}) of an encrypted overlay record:
    a peer's tunnel address, and a routed peer's block too (WireGuard admits a source only from the
    peer whose allowed IPs hold it)."""
    peers = {}
    for share in overlay['peers'].values():
        if share.get('public_key'):
            allowed = ['%s/32' % share['tunnel']] + ([share['block']] if overlay['mode'] == 'routed' else [])
            peers[share['public_key']] = ('%s:%d' % (share['underlay'], overlay['encrypted']['port']),
                                          tuple(sorted(allowed)))
    return overlay['encrypted']['port'], peers


def parse_dump(text):
    """`wg show IF dump`: (private key, listen port, {peer public key: (endpoint, allowed IPs)}, the
    peers that have made a handshake)."""
    lines = [line.split('\t') for line in text.splitlines() if line]
    if not lines:
        return None, None, {}, set()
    head = lines[0]
    peers, shaken = {}, set()
    for fields in lines[1:]:
        allowed = () if fields[3] == '(none)' else tuple(sorted(fields[3].split(',')))
        peers[fields[0]] = (None if fields[2] == '(none)' else fields[2], allowed)
        if fields[4] != '0':
            shaken.add(fields[0])
    return head[0], int(head[2]), peers, shaken


def in_force(have, private, port, peers):
    """Whether the configuration read (`parse_dump`) is the one wanted. A peer that has made a
    handshake may have roamed (WireGuard follows its sealed packets to a new source address, behind
    NAT): its endpoint is WireGuard's to keep, or every run would reset it."""
    have_private, have_port, have_peers, shaken = have
    if (have_private, have_port) != (private, port) or set(have_peers) != set(peers):
        return False
    return all(have_peers[k][1] == peers[k][1] and (have_peers[k][0] == peers[k][0] or k in shaken) for k in peers)


def config_text(private_key, port, peers):
    """The `wg syncconf` form of a configuration."""
    out = ['[Interface]', 'PrivateKey = %s' % private_key, 'ListenPort = %d' % port]
    for key in sorted(peers):
        endpoint, allowed = peers[key]
        out += ['', '[Peer]', 'PublicKey = %s' % key, 'Endpoint = %s' % endpoint, 'AllowedIPs = %s' % ', '.join(allowed)]
    return '\n'.join(out) + '\n'


# ---- kernel --------------------------------------------------------------------------------------

def _make_key(path):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    key = _wg(['genkey'])
    fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    os.rename(path + '.tmp', path)


def _in_init_netns():
    """This process runs in PID 1's network namespace: a unit systemd starts would be in it too (a run
    inside another namespace, such as a test's lab host, starts its own daemon there)."""
    try:
        return os.stat('/proc/self/ns/net').st_ino == os.stat('/proc/1/ns/net').st_ino
    except OSError:
        return False


def _start_userspace(name):
    if not shutil.which('wireguard-go'):  # the kernel's module was loadable by modprobe -n, yet refused
        raise OSError('the kernel refused a wireguard link and wireguard-go is not installed (package wireguard-go)')
    if os.path.isdir('/run/systemd/system') and shutil.which('systemd-run') and _in_init_netns():
        # supervised by systemd and out of the run's session; it ends when its link is deleted
        unit = 'container-net-' + name
        subprocess.call(['systemctl', 'reset-failed', unit + '.service'], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        cmd = ['systemd-run', '--quiet', '--collect', '--unit', unit, '--setenv', 'LOG_LEVEL=error',
               shutil.which('wireguard-go'), '-f', name]
    else:
        cmd = ['wireguard-go', name]  # it daemonizes itself; no descriptor of the run's is kept
    with tempfile.TemporaryFile() as err:  # not a pipe: the daemon keeps its stderr, and a pipe would never end
        code = subprocess.call(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                               start_new_session=True, env=dict(os.environ, LOG_LEVEL='error'))
        if code:
            err.seek(0)
            raise OSError('wireguard-go %s: %s' % (name, err.read().decode('utf-8', 'replace').strip()))


def _create(netlink, name):
    try:
        netlink.add_wireguard(name)
        return
    except NetlinkError as e:  # the kernel does not know the link kind
        if e.code not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
    _start_userspace(name)
    deadline = time.monotonic() + START_TIMEOUT
    while netlink.link(name) is None or not os.path.exists('/var/run/wireguard/%s.sock' % name):
        if time.monotonic() > deadline:
            raise OSError('wireguard-go did not create link %s' % name)
        time.sleep(0.02)


def _recorded(state, bridge_name):
    bridge = (state or {}).get('bridges', {}).get(bridge_name) or {}
    return (bridge.get('overlay') or {}).get('encrypted'), bridge.get('overlay')


def steps(netlink, name, old, new, host_links, registry_dir, step):
    """Kernel steps of bridge `name`'s WireGuard link: created with its key, address, MTU and peers;
    or removed (with its key) once the bridge is not an encrypted overlay."""
    tunnel, overlay = _recorded(new, name)
    old_tunnel = _recorded(old, name)[0]
    out = []
    if old_tunnel and (not tunnel or old_tunnel['interface'] != tunnel['interface']):
        link = host_links.get(old_tunnel['interface'])
        if link is not None:
            out.append(step('delete wireguard %s' % old_tunnel['interface'],
                            lambda: netlink.delete_link(link['index'])))
    if not tunnel:
        path = key_path(registry_dir, name)
        if os.path.exists(path):
            out.append(step('remove wireguard key of %s' % name, lambda: _remove_key(path)))
        return out
    wg = tunnel['interface']
    path = key_path(registry_dir, name)
    link = host_links.get(wg)
    if link is not None and link['kind'] not in KINDS:
        out.append(step('delete %s (a %s link, not wireguard)' % (wg, link['kind']),
                        lambda: netlink.delete_link(link['index'])))
        link = None
    port, peers = wanted(overlay)
    if link is None or not os.path.exists(path):
        def create():
            if not os.path.exists(path):
                _make_key(path)
            if netlink.link(wg) is None:
                _create(netlink, wg)
            _configure(netlink, wg, tunnel, path, port, peers)
        out.append(step('create wireguard %s for %s: %s, port %d, %d peers'
                        % (wg, name, tunnel['address'], port, len(peers)), create))
        return out
    if link['addrs'] != [tunnel['address']] or link['mtu'] != tunnel['mtu'] or not link['up']:
        out.append(step('set %s address %s, mtu %d, up' % (wg, tunnel['address'], tunnel['mtu']),
                        lambda: _set_link(netlink, wg, tunnel)))
    with open(path, 'rb') as f:
        private = f.read().decode('ascii').strip()
    if not in_force(parse_dump(_wg(['show', wg, 'dump'])), private, port, peers):
        out.append(step('configure %s: port %d, peers %s' % (wg, port, ', '.join(
            '%s at %s' % (k[:8], peers[k][0]) for k in sorted(peers)) or 'none'),
            lambda: _sync(wg, private, port, peers)))
    return out


def _remove_key(path):
    os.unlink(path)
    try:
        os.rmdir(os.path.dirname(path))  # the last key: the registry directory can go with its last object
    except OSError:
        pass


def _set_link(netlink, wg, tunnel):
    link = netlink.link(wg)
    for addr in link['addrs']:
        if addr != tunnel['address']:
            netlink.del_addr(link['index'], addr)
    if tunnel['address'] not in link['addrs']:
        netlink.add_addr(link['index'], tunnel['address'])
    netlink.set_link(link['index'], mtu=tunnel['mtu'], state='up')


def _sync(wg, private, port, peers):
    _wg(['syncconf', wg, '/dev/stdin'], config_text(private, port, peers).encode('ascii'), secret=True)


def _configure(netlink, wg, tunnel, path, port, peers):
    with open(path, 'rb') as f:
        private = f.read().decode('ascii').strip()
    _sync(wg, private, port, peers)
    _set_link(netlink, wg, tunnel)
