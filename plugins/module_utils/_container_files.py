# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files of a container under /etc/netns/NAME/: hosts, resolv.conf and environment.

`ip netns exec NAME` bind-mounts each of them over its namesake in /etc, systemd units and other
runtimes read them by path. All are rendered from the registry, so links never go stale.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils._registry import stale_temp_files, write_file_atomic

DEFAULT_ETC_DIR = '/etc/netns'
HOST_RESOLV_CONF = '/etc/resolv.conf'
# A Docker container's default hosts lines (see the oracle).
DEFAULT_HOSTS = (
    '127.0.0.1\tlocalhost\n'
    '::1\tlocalhost ip6-localhost ip6-loopback\n'
    'fe00::0\tip6-localnet\n'
    'ff00::0\tip6-mcastprefix\n'
    'ff02::1\tip6-allnodes\n'
    'ff02::2\tip6-allrouters\n'
)
FILES = ('hosts', 'resolv.conf', 'environment')
MODES = {'hosts': 0o644, 'resolv.conf': 0o644, 'environment': 0o600}


def resolved_links(state):
    """Every link resolved once, grouped by receiver in link-key order: a run renders each
    receiver's hosts and env files from this instead of scanning all links per receiver."""
    out = {}
    for key in sorted(state['links']):
        link = state['links'][key]
        resolved = links.resolve(state, link)
        if resolved:
            out.setdefault(link['receiver'], []).append(resolved)
    return out


def render_hosts(state, name, resolved=None):
    container = state['containers'][name]
    lines = [DEFAULT_HOSTS]
    for entry in container.get('extra_hosts') or []:
        lines.append('%s\t%s\n' % (entry['ip'], entry['host']))
    for link in (resolved_links(state) if resolved is None else resolved).get(name, []):
        lines.extend(line + '\n' for line in link['hosts_lines'])
    if container['networks']:  # its own address(es) last, IPv6 after IPv4 (the IPv6 oracle)
        first = container['networks'][0]
        lines.extend('%s\t%s\n' % (ip, container['hostname']) for ip in (first['ip'], first.get('ip6')) if ip)
    return ''.join(lines)


def render_resolv_conf(container, host_resolv, bridges=None):
    """On a DNS network, the host's resolver on that network's gateway (it forwards to the
    container's `dns` servers or the host's); otherwise explicit dns settings win, else the host's
    file without loopback resolvers, which a container namespace cannot reach (Docker filters
    them the same way)."""
    named = [n for n in container.get('networks') or [] if (bridges or {}).get(n['bridge'], {}).get('dns')]
    if named:
        return _resolv_conf_for_names(container, host_resolv, bridges[named[0]['bridge']]['gateway'])
    if container.get('dns') or container.get('dns_search') or container.get('dns_options'):
        out = ['nameserver %s\n' % ns for ns in container.get('dns') or []]
        if container.get('dns_search'):
            out.append('search %s\n' % ' '.join(container['dns_search']))
        if container.get('dns_options'):
            out.append('options %s\n' % ' '.join(container['dns_options']))
        return ''.join(out)
    out = []
    for line in host_resolv.splitlines():
        words = line.split()
        if words[:1] == ['nameserver'] and len(words) > 1 and (
                words[1].startswith('127.') or words[1] == '::1'):
            continue
        out.append(line + '\n')
    return ''.join(out)


def _resolv_conf_for_names(container, host_resolv, gateway):
    """Docker's file for user-defined networks, with the gateway where Docker has 127.0.0.11: one
    name server (the resolver answers for every network the container is on), the search domains
    and options (its own, else the host's) and `ndots:0` unless the options set ndots."""
    def host(keyword):  # glibc: the last such line wins
        lines = [line.split()[1:] for line in host_resolv.splitlines() if line.split()[:1] == [keyword]]
        return lines[-1] if lines else []
    search = container.get('dns_search') or host('search')
    options = list(container.get('dns_options') or host('options'))
    if not any(o.startswith('ndots:') for o in options):
        options.append('ndots:0')
    out = ['nameserver %s\n' % gateway]
    if search:
        out.append('search %s\n' % ' '.join(search))
    out.append('options %s\n' % ' '.join(options))
    return ''.join(out)


def quote_env_value(value):
    """Double quotes with \\ " $ ` escaped, newlines kept literally inside the quotes: what systemd's
    EnvironmentFile= reads back unchanged (and container-exec alike), spaces, '=', quotes and '$' too."""
    return '"%s"' % ''.join('\\' + c if c in '\\"$`' else c for c in value)


def container_env(state, name, resolved=None):
    """Link variables first, then the container's own: its own win on a clash (as Docker)."""
    env = {}
    for link in (resolved_links(state) if resolved is None else resolved).get(name, []):
        env.update(link['env'])
    env.update(state['containers'][name].get('env') or {})
    return env


def render_environment(state, name, resolved=None):
    env = container_env(state, name, resolved)
    return ''.join('%s=%s\n' % (k, quote_env_value(v)) for k, v in sorted(env.items()))


def render(state, name, host_resolv, resolved=None):
    resolved = resolved_links(state) if resolved is None else resolved
    return {
        'hosts': render_hosts(state, name, resolved),
        'resolv.conf': render_resolv_conf(state['containers'][name], host_resolv, state['bridges']),
        'environment': render_environment(state, name, resolved),
    }


class FilePlan:
    """Files to write or remove; `changes` describes them without their content (env is secret)."""

    def __init__(self):
        self.writes = []    # (path, content, mode)
        self.removes = []   # paths
        self.rmdirs = []

    @property
    def changes(self):
        return (['write %s' % w[0] for w in self.writes] + ['remove %s' % r for r in self.removes]
                + ['remove directory %s' % d for d in self.rmdirs])

    def apply(self):
        for path, content, mode in self.writes:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            write_file_atomic(path, content, mode, durable=False)  # rendered again by any run
        for path in self.removes:
            try:
                os.unlink(path)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
        for path in self.rmdirs:
            try:
                os.rmdir(path)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENOTEMPTY):
                    raise


def _read(path):
    try:
        with open(path) as f:
            return f.read(), os.stat(path).st_mode & 0o7777
    except (IOError, OSError) as e:
        if e.errno != errno.ENOENT:
            raise
        return None, None


def plan(old, new, etc_dir, registry_dir=None):
    """Compare every container's rendered files with the disk; removed containers lose theirs,
    and what a killed run left half-written (its temporary files) goes."""
    result = FilePlan()
    if registry_dir:
        result.removes.extend(stale_temp_files(registry_dir))
    if not new['containers'] and not old['containers']:
        return result
    host_resolv = _read(HOST_RESOLV_CONF)[0] or ''
    resolved = resolved_links(new)
    for name in sorted(new['containers']):
        for fname, content in sorted(render(new, name, host_resolv, resolved).items()):
            path = os.path.join(etc_dir, name, fname)
            if _read(path) != (content, MODES[fname]):
                result.writes.append((path, content, MODES[fname]))
        result.removes.extend(stale_temp_files(os.path.join(etc_dir, name)))
    for name in sorted(set(old['containers']) - set(new['containers'])):
        directory = os.path.join(etc_dir, name)
        for fname in FILES:
            if os.path.lexists(os.path.join(directory, fname)):
                result.removes.append(os.path.join(directory, fname))
        result.removes.extend(stale_temp_files(directory))
        if os.path.isdir(directory):
            result.rmdirs.append(directory)
    return result
