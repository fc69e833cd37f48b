# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel network state through pyroute2 (netlink): read links, addresses and routes; apply changes.

Sockets into a container's namespace are opened by entering it with setns(2) in this process
and coming back: pyroute2's own `netns=` forks a helper per use, which dominates the cost
(see shared notes, limits.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket

try:
    from pyroute2 import IPRoute
    from pyroute2 import netns as pr_netns
    from pyroute2.netlink.exceptions import NetlinkError
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError as e:  # reported by the module through missing_required_lib
    IPRoute = pr_netns = None
    NetlinkError = OSError
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = e

NETNS_RUN_DIR = '/run/netns'
IFNAMSIZ = 15


def netns_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def netns_exists(name):
    """Whether a namespace is bound at /run/netns/NAME. The name alone is not enough: creation makes
    the file first and bind-mounts the namespace on it after, so a run killed in between leaves a
    plain file that no one can enter (setns: EINVAL). A bound one lives on nsfs, another device."""
    try:
        return os.stat(netns_path(name)).st_dev != os.stat(NETNS_RUN_DIR).st_dev
    except OSError:
        return False


def _unlink_placeholder(name):
    """Remove the unbound file a killed creation left (see netns_exists); nothing when there is none."""
    try:
        os.unlink(netns_path(name))
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise


def sysctl_path(key):
    """A key as components ('net', 'ipv4', 'conf', IFNAME, ...), or dotted when no part holds a dot:
    an interface name may contain dots, so keys that name one are always given as components."""
    parts = key.split('.') if isinstance(key, str) else list(key)
    if any(not p or '/' in p or p in ('.', '..') for p in parts):
        raise ValueError('invalid sysctl key %r' % (key,))
    return '/proc/sys/' + '/'.join(parts)


def sysctl_name(key):
    """How a key reads in a message (sysctl(8) spelling)."""
    return key if isinstance(key, str) else '.'.join(key)


def ipv6_conf(ifname, setting='disable_ipv6'):
    return ('net', 'ipv6', 'conf', ifname, setting)


def in_netns(name, action):
    """Run `action()` with this process inside network namespace `name` (/proc/sys/net follows it)."""
    pr_netns.pushns(name)
    try:
        return action()
    finally:
        pr_netns.popns()


def _mount_id(pid):
    """A process's mount namespace, as the ID of its root mount: mount IDs are unique across
    mount namespaces, and /proc/1/mountinfo stays readable where /proc/1/ns/mnt is not (a PID 1 in
    another user namespace)."""
    try:
        with open('/proc/%s/mountinfo' % pid) as f:
            for line in f:
                fields = line.split(' ')
                if len(fields) > 4 and fields[4] == '/':
                    return 'mount %s' % fields[0]
    except (IOError, OSError):
        pass
    return None


def _peer_groups(mountinfo_path, mount_point):
    """The shared peer groups of the mount at `mount_point` in a mountinfo file (empty: private)."""
    try:
        with open(mountinfo_path) as f:
            lines = f.read().splitlines()
    except (IOError, OSError):
        return None
    groups = None
    for line in lines:
        fields = line.split(' ')
        if len(fields) > 6 and fields[4] == mount_point:
            optional = fields[6:fields.index('-')] if '-' in fields else []
            groups = set(o for o in optional if o.startswith('shared:'))  # the last mount on top wins
    return groups


_PERSISTENCE = []


def netns_persistence_problem():
    """Memoized: the answer cannot change within a run, and a run may create hundreds of namespaces."""
    if not _PERSISTENCE:
        _PERSISTENCE.append(_persistence_problem())
    return _PERSISTENCE[0]


def _persistence_problem():
    """Why a namespace created now would vanish when this process exits, or None.

    A named namespace is a bind mount under /run/netns. Run in a private mount namespace (under
    `ip netns exec`, some CI runners and execution environments), that mount exists only there
    unless /run/netns is shared with the host's mount namespace (PID 1's)."""
    mine, host = _mount_id('self'), _mount_id(1)
    if mine is None or host is None or mine == host:
        return None
    ours = _peer_groups('/proc/self/mountinfo', NETNS_RUN_DIR)
    theirs = _peer_groups('/proc/1/mountinfo', NETNS_RUN_DIR)
    if ours and theirs and ours & theirs:
        return None
    return ('this process runs in a private mount namespace (root %s, the host\'s is %s): a network namespace '
            'created under %s here would vanish when the module exits. Run Ansible in the host\'s mount '
            'namespace (not under `ip netns exec` or `unshare -m`), or share %s with it first'
            % (mine, host, NETNS_RUN_DIR, NETNS_RUN_DIR))


def disable_ipv6_here(ifnames):
    """IPv6 off for these interfaces of the namespace this process is in (a kernel without IPv6: nothing)."""
    for ifname in ifnames:
        if read_sysctl(ipv6_conf(ifname)) is not None:
            write_sysctl(ipv6_conf(ifname), 1)


def read_sysctl(key):
    try:
        with open(sysctl_path(key)) as f:
            return f.read().strip()
    except (IOError, OSError):
        return None


def write_sysctl(key, value):
    with open(sysctl_path(key), 'w') as f:
        f.write(str(value))


class Netlink:
    """One IPRoute socket per namespace, opened lazily and closed together."""

    def __init__(self):
        self._sockets = {}
        self._bridges = {}  # bridge name -> index, for the veths of one run; dropped on any delete

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for ipr in self._sockets.values():
            ipr.close()
        self._sockets = {}

    def ipr(self, ns=None):
        """The socket for the host (ns None) or for the named container namespace."""
        if ns not in self._sockets:
            if ns is None:
                self._sockets[ns] = IPRoute()
            else:
                pr_netns.pushns(ns)
                try:
                    self._sockets[ns] = IPRoute()
                finally:
                    pr_netns.popns()
        return self._sockets[ns]

    def forget(self, ns):
        ipr = self._sockets.pop(ns, None)
        if ipr is not None:
            ipr.close()

    # ---- reading -------------------------------------------------------------------------
    def index(self, name, ns=None):
        """The index of a link by name (one targeted request, no dump), or None."""
        msg = self._get(name, ns)
        return msg['index'] if msg is not None else None

    def _get(self, name, ns):
        try:
            for msg in self.ipr(ns).link('get', ifname=name):
                return msg
        except NetlinkError as e:
            if e.code != errno.ENODEV:
                raise
        return None

    def bridge_index(self, name):
        """The host bridge's index, looked up once for all the veths a run plugs into it."""
        if self._bridges.get(name) is None:
            self._bridges[name] = self.index(name)
        return self._bridges[name]

    def link(self, name, ns=None):
        """A link as a plain dict, or None: name, index, kind, mtu, mac, up, master, addrs, hairpin."""
        msg = self._get(name, ns)
        if msg is None:
            return None
        return self._link_dict(msg, self.ipr(ns).get_addr(index=msg['index'], family=socket.AF_INET))

    def links(self, ns=None):
        """Every link of a namespace, from one link dump and one address dump."""
        ipr = self.ipr(ns)
        addrs = {}
        for a in ipr.get_addr(family=socket.AF_INET):
            addrs.setdefault(a['index'], []).append(a)
        return [self._link_dict(msg, addrs.get(msg['index'], [])) for msg in ipr.get_links()]

    @staticmethod
    def _link_dict(msg, addr_msgs):
        info = msg.get_attr('IFLA_LINKINFO')
        port = info.get_attr('IFLA_INFO_SLAVE_DATA') if info and info.get_attr('IFLA_INFO_SLAVE_KIND') == 'bridge' \
            else None
        return {
            'name': msg.get_attr('IFLA_IFNAME'),
            'index': msg['index'],
            'kind': info.get_attr('IFLA_INFO_KIND') if info else None,
            'mtu': msg.get_attr('IFLA_MTU'),
            'mac': msg.get_attr('IFLA_ADDRESS'),
            'up': bool(msg['flags'] & 1),
            'master': msg.get_attr('IFLA_MASTER'),
            'addrs': sorted('%s/%s' % (a.get_attr('IFA_ADDRESS'), a['prefixlen']) for a in addr_msgs),
            'hairpin': bool(port.get_attr('IFLA_BRPORT_MODE')) if port is not None else None,
            'ipv6': _ipv6_enabled(msg),
        }

    def sysctl(self, key, ns=None):
        """A sysctl's value in the host or in a container's namespace (None: no such key)."""
        return read_sysctl(key) if ns is None else in_netns(ns, lambda: read_sysctl(key))

    def set_sysctl(self, key, value, ns=None):
        if ns is None:
            write_sysctl(key, value)
        else:
            in_netns(ns, lambda: write_sysctl(key, value))

    def disable_ipv6(self, *ifnames, **kw):
        """Bridges and containers are IPv4-only (as Docker's): without IPv6 nothing is reachable over
        link-local addresses that icc and the ingress stage do not see."""
        ns = kw.get('ns')
        if ns is None:
            disable_ipv6_here(ifnames)
        else:
            in_netns(ns, lambda: disable_ipv6_here(ifnames))  # one namespace switch for every write

    def default_gateway(self, ns=None):
        for route in self.ipr(ns).get_default_routes(family=socket.AF_INET):
            return route.get_attr('RTA_GATEWAY')
        return None

    # ---- writing -------------------------------------------------------------------------
    def add_bridge(self, name, mtu=None):
        self._bridges.pop(name, None)
        kwargs = {'ifname': name, 'kind': 'bridge'}
        if mtu:
            kwargs['mtu'] = mtu
        self.ipr().link('add', **kwargs)
        return self.link(name)

    def set_link(self, index, ns=None, **attrs):
        self.ipr(ns).link('set', index=index, **attrs)

    def set_hairpin(self, index):
        """Let a bridge port send frames back out where they came in (published-port hairpin)."""
        self.ipr().brport('set', index=index, mode=1)

    def delete_link(self, index, ns=None):
        self._bridges = {}
        try:
            self.ipr(ns).link('del', index=index)
        except NetlinkError as e:
            if e.code != errno.ENODEV:
                raise

    def add_addr(self, index, cidr, ns=None):
        address, prefixlen = cidr.split('/')
        self.ipr(ns).addr('add', index=index, address=address, prefixlen=int(prefixlen))

    def del_addr(self, index, cidr, ns=None):
        address, prefixlen = cidr.split('/')
        self.ipr(ns).addr('del', index=index, address=address, prefixlen=int(prefixlen))

    def replace_default_route(self, gateway, ns=None):
        self.ipr(ns).route('replace', dst='0.0.0.0/0', gateway=gateway)

    def add_veth(self, host_name, peer_name, ns, master, mtu, mac):
        """A veth pair in one request: the host end on its bridge and up, the peer created straight
        inside the container namespace with its MAC and MTU (the kernel does not take the peer's
        up flag here, so the caller brings it up with its address)."""
        self.ipr().link('add', ifname=host_name, kind='veth', master=master, mtu=mtu, state='up',
                        peer={'ifname': peer_name, 'net_ns_fd': netns_path(ns), 'address': mac, 'mtu': mtu})

    # ---- namespaces ----------------------------------------------------------------------
    @staticmethod
    def create_netns(name, inside=None):
        """Create a named namespace in-process (as `ip netns add`), run `inside()` in it (creation
        left this process there: no extra switch), then return to ours."""
        _unlink_placeholder(name)  # creation refuses an existing file (O_EXCL)
        pr_netns.pushns()
        try:
            pr_netns._create(name)  # pylint: disable=protected-access
            if inside is not None:
                inside()
        finally:
            pr_netns.popns()

    def delete_netns(self, name):
        """Unmount and unlink; the kernel frees the namespace and its veth ends in one go."""
        self.forget(name)
        if netns_exists(name):
            pr_netns.remove(name)
        else:
            _unlink_placeholder(name)


def _ipv6_enabled(msg):
    """Whether IPv6 is on for a link, from its own dump (IFLA_AF_SPEC): None where the kernel has no IPv6."""
    spec = msg.get_attr('IFLA_AF_SPEC')
    inet6 = spec.get_attr('AF_INET6') if spec is not None else None
    conf = inet6.get_attr('IFLA_INET6_CONF') if inet6 is not None else None
    if conf is None:
        return None
    return not conf.get('disable_ipv6')


def listening_ports(proto):
    """Ports with a bound socket in this namespace: {port: set(addresses)} ('0.0.0.0' for any).

    TCP counts listeners only, UDP every bound socket; IPv6 wildcard sockets count as any address.
    """
    out = {}
    for family, suffix in ((4, ''), (6, '6')):
        try:
            with open('/proc/net/%s%s' % (proto, suffix)) as f:
                lines = f.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if proto == 'tcp' and state != '0A':
                continue
            addr_hex, port_hex = local.rsplit(':', 1)
            if family == 4:
                addr = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1])
            else:
                addr = '0.0.0.0' if set(addr_hex) == {'0'} else None
                if addr is None:
                    continue  # a specific IPv6 address cannot clash with an IPv4 mapping
            out.setdefault(int(port_hex, 16), set()).add(addr)
    return out


def host_addresses(netlink):
    """Every IPv4 address of the host namespace."""
    addrs = set()
    for link in netlink.links():
        addrs.update(a.split('/')[0] for a in link['addrs'])
    return addrs
