# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's `container-net` command: restore, check and Docker-like views, without Ansible.

Every write goes through the same Manager the modules use (restore is container_net_info's plan
applied), so no rule, file or netlink step has a second implementation. A small stand-in for
AnsibleModule gives the Manager what it calls: params, run_command, get_bin_path, exit/fail.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

from ansible_collections.seed.container_net.plugins.module_utils import _container_files as files
from ansible_collections.seed.container_net.plugins.module_utils import _dns_supervisor as dns_supervisor
from ansible_collections.seed.container_net.plugins.module_utils import _firewalld_watch as firewalld_watch
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils import _topology as topology
from ansible_collections.seed.container_net.plugins.module_utils._module import Manager, Step
from ansible_collections.seed.container_net.plugins.module_utils._netlink import netns_exists, netns_path
from ansible_collections.seed.container_net.plugins.module_utils._registry import DEFAULT_REGISTRY_DIR, Registry

SBIN = ('/usr/local/sbin', '/usr/sbin', '/sbin')


class Done(Exception):
    """exit_json / fail_json of the stand-in module: the Manager's result."""

    def __init__(self, result, failed):
        Exception.__init__(self, result.get('msg', ''))
        self.result, self.failed = result, failed


class CommandModule:
    """What Manager needs of AnsibleModule, for a command run on the host."""

    def __init__(self, registry_dir, etc_dir, check_mode=False):
        self.params = {'registry_dir': registry_dir, 'netns_etc_dir': etc_dir}
        self.check_mode = check_mode
        self._diff = False

    @staticmethod
    def run_command(args, check_rc=False, data=None, binary_data=False):
        out = subprocess.run(args, input=data, capture_output=True, text=True, check=False)
        if check_rc and out.returncode != 0:
            raise Done({'msg': '%s failed: %s' % (' '.join(args), out.stderr.strip())}, True)
        return out.returncode, out.stdout, out.stderr

    @staticmethod
    def get_bin_path(name, required=False):
        path = shutil.which(name) or next((os.path.join(d, name) for d in SBIN
                                           if os.access(os.path.join(d, name), os.X_OK)), None)
        if path is None and required:
            raise Done({'msg': 'required command %s not found' % name}, True)
        return path

    def exit_json(self, **result):
        raise Done(result, False)

    def fail_json(self, **result):
        raise Done(result, True)


class HostManager(Manager):
    """The registry is the desired state: converge the host to it (restore) or report drift (check)."""

    kind = 'container-net'

    def update(self, state):
        """Nothing to change: the registry itself is what the host should be."""

    def kernel_plan(self, old, new):
        return topology.host_steps(self.netlink, old, new, Step, self.params['registry_dir'])

    def facts(self, state):
        return {}


def converge(registry_dir, etc_dir, read_only):
    manager = HostManager(CommandModule(registry_dir, etc_dir))
    manager.read_only = read_only
    try:
        manager.run()
    except Done as done:
        return done.result, done.failed
    return {}, False


# ---- views ---------------------------------------------------------------------------------------

def short_id(kind, name):
    """A stable 12-hex-digit id, as Docker shows (the collection keeps names, not ids)."""
    return hashlib.sha256(('%s\0%s' % (kind, name)).encode('utf-8')).hexdigest()[:12]


def read_state(registry_dir):
    with Registry(registry_dir, create=False) as registry:
        return registry.loaded


def published(state, name):
    return [ports.describe(m) for m in state['ports'].get(name, {}).get('mappings', [])]


def ps_rows(state):
    out = []
    for name in sorted(state['containers']):
        c = state['containers'][name]
        out.append({'ID': short_id('container', name), 'Names': name,
                    'Networks': ','.join(n['bridge'] for n in c['networks']),
                    'IPAddress': ','.join(ip for n in c['networks'] for ip in (n['ip'], n.get('ip6')) if ip),
                    'Ports': ', '.join('%s:%s->%s' % (m['host_ip'], ports.join_range(m['host_port'], m['host_end']),
                                                      '%s/%s' % (ports.join_range(m['port'], m['end']), m['proto']))
                                       for m in state['ports'].get(name, {}).get('mappings', [])),
                    'Status': 'up' if netns_exists(name) else 'missing (restore)'})
    return out


def network_rows(state):
    return [{'ID': short_id('network', n), 'Name': n, 'Driver': 'bridge', 'Scope': 'local'} for n in sorted(state['bridges'])]


def network_inspect(state, name):
    """Docker's `network inspect` shape for one bridge."""
    b = state['bridges'][name]
    config = {'Subnet': b['subnet'], 'Gateway': b['gateway']}
    if b.get('ip_range'):
        config['IPRange'] = b['ip_range']
    configs = [config]
    if b.get('subnet_v6'):
        configs.append(dict({'Subnet': b['subnet_v6'], 'Gateway': b['gateway_v6']},
                            **({'IPRange': b['ip_range_v6']} if b.get('ip_range_v6') else {})))
    members = {}
    for cname in sorted(state['containers']):
        for net in state['containers'][cname]['networks']:
            if net['bridge'] == name:
                members[short_id('container', cname)] = {
                    'Name': cname, 'MacAddress': net['mac'],
                    'IPv4Address': '%s/%d' % (net['ip'], b['prefixlen']),
                    'IPv6Address': '%s/%d' % (net['ip6'], b['prefixlen_v6']) if net.get('ip6') else ''}
    return {
        'Name': name, 'Id': short_id('network', name), 'Scope': 'local', 'Driver': 'bridge',
        'EnableIPv6': bool(b.get('subnet_v6')),
        'IPAM': {'Driver': 'default', 'Options': {}, 'Config': configs},
        'Internal': b['internal'], 'Attachable': False, 'Ingress': False, 'Containers': members,
        'Options': {'com.docker.network.bridge.name': name,
                    'com.docker.network.bridge.enable_icc': str(b['icc']).lower(),
                    'com.docker.network.bridge.enable_ip_masquerade': str(b['ip_masquerade']).lower(),
                    'com.docker.network.bridge.host_binding_ipv4': b['host_binding_ipv4'],
                    'com.docker.network.driver.mtu': str(b['mtu'])},
        'Labels': {},
    }


def port_bindings(state, name):
    out = {}
    for m in state['ports'].get(name, {}).get('mappings', []):
        for k in range(m['end'] - m['port'] + 1):
            out.setdefault('%d/%s' % (m['port'] + k, m['proto']), []).append(
                {'HostIp': m['host_ip'], 'HostPort': str(m['host_port'] + k)})
    return out


def inspect(state, name, etc_dir):
    """Docker's `inspect` shape for one container; env values are never printed (they may be secrets)."""
    c = state['containers'][name]
    bridges = state['bridges']
    nets = dict((n['bridge'], {'NetworkID': short_id('network', n['bridge']), 'IPAddress': n['ip'],
                               'IPPrefixLen': bridges[n['bridge']]['prefixlen'],
                               'Gateway': bridges[n['bridge']]['gateway'], 'MacAddress': n['mac'],
                               'GlobalIPv6Address': n.get('ip6') or '',
                               'GlobalIPv6PrefixLen': bridges[n['bridge']].get('prefixlen_v6', 0) if n.get('ip6') else 0,
                               'IPv6Gateway': bridges[n['bridge']].get('gateway_v6', '') if n.get('ip6') else '',
                               'InterfaceName': n['ifname'], 'HostInterface': n['veth']})
                for n in c['networks'])
    receiver_links = ['/%s:/%s/%s' % (l['source'], name, l['alias'])
                      for k, l in sorted(state['links'].items()) if l['receiver'] == name]
    exposed = dict(('%d/%s' % (p['port'], p['proto']), {}) for p in links.expand_ports(c['exposed_ports']))
    return {
        'Id': short_id('container', name), 'Name': '/' + name,
        'Config': {'Hostname': c['hostname'], 'ExposedPorts': exposed,
                   'Env': ['%s=<hidden>' % k for k in sorted(files.container_env(state, name))]},
        'HostConfig': {'Links': receiver_links or None, 'PortBindings': port_bindings(state, name),
                       'NetworkMode': c['networks'][0]['bridge'] if c['networks'] else 'none',
                       'Dns': c.get('dns') or [], 'DnsSearch': c.get('dns_search') or [],
                       'DnsOptions': c.get('dns_options') or [],
                       'ExtraHosts': ['%s:%s' % (h['host'], h['ip']) for h in c.get('extra_hosts') or []] or None},
        'NetworkSettings': {'SandboxKey': netns_path(name), 'Ports': port_bindings(state, name),
                            'Networks': nets},
        'HostsPath': os.path.join(etc_dir, name, 'hosts'),
        'ResolvConfPath': os.path.join(etc_dir, name, 'resolv.conf'),
    }


def table(rows, columns):
    if not rows:
        return '  '.join(h for h, k in columns) + '\n'
    widths = [max(len(h), *(len(str(r[k])) for r in rows)) for h, k in columns]
    lines = ['   '.join(h.ljust(w) for (h, k), w in zip(columns, widths)).rstrip()]
    for r in rows:
        lines.append('   '.join(str(r[k]).ljust(w) for (h, k), w in zip(columns, widths)).rstrip())
    return '\n'.join(lines) + '\n'


# ---- the command -----------------------------------------------------------------------------------

def parser():
    p = argparse.ArgumentParser(prog='container-net', description=(
        "seed.container_net on this host, without Ansible: rebuild what the registry holds after a reboot or a "
        "firewall reload, report drift, and look around as with docker ps/port/network/inspect."))
    p.add_argument('--registry-dir', default=DEFAULT_REGISTRY_DIR, help='the registry (default %(default)s)')
    p.add_argument('--etc-dir', default=files.DEFAULT_ETC_DIR, help='container files (default %(default)s)')
    sub = p.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    r = sub.add_parser('restore', help='rebuild bridges, namespaces, veths, addresses, routes, sysctls, rules, '
                                       'sets and container files from the registry (idempotent)')
    r.add_argument('--json', action='store_true', help='print the result as JSON')
    c = sub.add_parser('check', help='report what drifted from the registry; exit 1 when anything did')
    c.add_argument('--json', action='store_true')
    s = sub.add_parser('ps', help='containers, as docker ps')
    s.add_argument('--json', action='store_true')
    o = sub.add_parser('port', help="a container's published ports, as docker port")
    o.add_argument('name')
    o.add_argument('--json', action='store_true')
    n = sub.add_parser('network', help='bridges, as docker network ls / inspect')
    nsub = n.add_subparsers(dest='network_command', metavar='ls|inspect')
    nsub.required = True
    ls = nsub.add_parser('ls', help='list the bridges')
    ls.add_argument('--json', action='store_true')
    ni = nsub.add_parser('inspect', help="one bridge, in Docker's JSON shape")
    ni.add_argument('name', nargs='+')
    ni.add_argument('--json', action='store_true', help='(always JSON, as docker network inspect)')
    i = sub.add_parser('inspect', help="one container, in Docker's JSON shape (env values hidden)")
    i.add_argument('name', nargs='+')
    i.add_argument('--json', action='store_true', help='(always JSON, as docker inspect)')
    sub.add_parser('firewalld-reload', help="stay running and restore after every firewalld reload (firewall-cmd --reload "
                                            "goes through D-Bus, not systemd), start and stop, as seen on the system bus; "
                                            "run by container-net-firewalld.service")
    d = sub.add_parser('dns', help="stay running as the host's resolver for bridges with dns: true (names and "
                                   "aliases of the networks a container is on, the rest forwarded upstream); it "
                                   "follows the registry by itself")
    d.add_argument('--port', type=int, default=53, help='port on each gateway (default %(default)s)')
    d.add_argument('--resolv-conf', default=files.HOST_RESOLV_CONF, help="the host's upstream servers (default %(default)s)")
    d.add_argument('--pidfile', action='store_true', help="record itself as the registry's resolver (resolver.pid "
                                                          "in the registry; runs start and stop it so)")
    return p


def _say(args, data, text):
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + '\n' if args.json else text)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.command in ('restore', 'check'):
            return _converge(args)
        if args.command == 'firewalld-reload':  # the restore command itself, after each firewalld event
            restore = argparse.Namespace(registry_dir=args.registry_dir, etc_dir=args.etc_dir, command='restore', json=False)
            return firewalld_watch.watch(lambda: _converge(restore), Registry(args.registry_dir).state_path)
        if args.command == 'dns':
            return dns_supervisor.serve(args.registry_dir, args.port, args.resolv_conf, recorded=args.pidfile)
        state = read_state(args.registry_dir)
        if args.command == 'ps':
            rows = ps_rows(state)
            columns = (('CONTAINER ID', 'ID'), ('NAMES', 'Names'), ('NETWORKS', 'Networks'),
                       ('IP ADDRESS', 'IPAddress'), ('PORTS', 'Ports'), ('STATUS', 'Status'))
            _say(args, rows, table(rows, columns))
        elif args.command == 'port':
            _known(state, 'containers', args.name, 'container')
            lines = published(state, args.name)
            _say(args, lines, ''.join(line + '\n' for line in lines))
        elif args.command == 'network' and args.network_command == 'ls':
            rows = network_rows(state)
            columns = (('NETWORK ID', 'ID'), ('NAME', 'Name'), ('DRIVER', 'Driver'), ('SCOPE', 'Scope'))
            _say(args, rows, table(rows, columns))
        elif args.command == 'network':
            for name in args.name:
                _known(state, 'bridges', name, 'network')
            sys.stdout.write(json.dumps([network_inspect(state, n) for n in args.name], indent=4) + '\n')
        else:
            for name in args.name:
                _known(state, 'containers', name, 'container')
            sys.stdout.write(json.dumps([inspect(state, n, args.etc_dir) for n in args.name], indent=4) + '\n')
    except LookupError as e:
        sys.stderr.write('container-net: %s\n' % e.args[0])
        return 1
    except Exception as e:  # pylint: disable=broad-except
        sys.stderr.write('container-net: %s\n' % e)
        return 2
    return 0


def _known(state, kind, name, word):
    if name not in state[kind]:
        held = ', '.join(sorted(state[kind])) or 'none'
        raise LookupError("no such %s: '%s' (the registry holds: %s)" % (word, name, held))


def _converge(args):
    result, failed = converge(args.registry_dir, args.etc_dir, read_only=args.command == 'check')
    if failed:
        sys.stderr.write('container-net %s: %s\n' % (args.command, result.get('msg')))
        return 2
    if args.command == 'check':
        drift = result['drift']
        text = 'in sync with the registry\n' if drift['in_sync'] else ''.join(
            '%s: %s\n' % (what, item) for what in ('kernel', 'files') for item in drift[what]) + ''.join(
            'firewall: table %s differs\n' % t for t in drift['firewall_tables']) + (
            'registry: a run did not finish (restore completes it)\n' if drift['unfinished_run'] else '')
        _say(args, drift, text)
        return 0 if drift['in_sync'] else 1
    _say(args, {'changed': result.get('changed', False)},
         'restored\n' if result.get('changed') else 'nothing to restore\n')
    return 0
