# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel network state through pyroute2 (netlink): read links, addresses and routes; apply changes.

Sockets into a container's namespace are opened by entering it with setns(2) in this process
and coming back: pyroute2's own `netns=` forks a helper per use, which dominates the cost
(see shared notes, limits.md). Requests go out on bare netlink sockets (`Rtnl`), encoded and
decoded by pyroute2's message classes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import importlib.util
import os
import socket
import struct
import sys
import types


def _import_pyroute2_parts():
    """pyroute2's package __init__ imports every API it has (IPDB, NDB, nl80211, asyncio...: about
    0.1 s, a third of a whole `container-net restore`); the parts used here (namespaces, message
    classes) need none of it. Register the package without running its __init__; the first
    attribute asked of it that is not a submodule loads the real __init__ (PEP 562), so any other
    user of `pyroute2` in this process still gets the whole library."""
    if 'pyroute2' in sys.modules:
        return
    spec = importlib.util.find_spec('pyroute2')
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import below fails and says so

    package = types.ModuleType('pyroute2')
    package.__file__ = spec.origin
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__package__ = 'pyroute2'

    def load_everything(attr):
        if importlib.util.find_spec('pyroute2.' + attr) is not None:  # `from pyroute2 import netns`
            return importlib.import_module('pyroute2.' + attr)
        with open(spec.origin) as f:
            code = compile(f.read(), spec.origin, 'exec')
        package.__dict__.pop('__getattr__', None)
        exec(code, package.__dict__)  # pylint: disable=exec-used
        try:
            return package.__dict__[attr]
        except KeyError:
            raise AttributeError("module 'pyroute2' has no attribute %r" % attr)

    package.__getattr__ = load_everything
    sys.modules['pyroute2'] = package


try:
    _import_pyroute2_parts()
    import pyroute2.netns as pr_netns
    from pyroute2.netlink import (NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE,
                                  NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR)
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import (RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR,
                                       RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK,
                                       RTM_NEWNEIGH, RTM_NEWROUTE)
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError as e:  # reported by the module through missing_required_lib
    pr_netns = ifaddrmsg = ifinfmsg = ndmsg = rtmsg = None
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


def enable_ipv6_here(ifnames):
    """IPv6 on for these interfaces, without duplicate address detection: the addresses are leased
    from the registry, and a tentative address would refuse traffic for a second or more."""
    for ifname in ifnames:
        if read_sysctl(ipv6_conf(ifname)) is None:
            raise OSError('IPv6 is not available in this kernel (no %s)' % sysctl_name(ipv6_conf(ifname)))
        write_sysctl(ipv6_conf(ifname, 'accept_dad'), 0)
        write_sysctl(ipv6_conf(ifname, 'accept_ra'), 0)  # addresses come from the registry only
        write_sysctl(ipv6_conf(ifname), 0)


def read_sysctl(key):
    try:
        with open(sysctl_path(key)) as f:
            return f.read().strip()
    except (IOError, OSError):
        return None


def write_sysctl(key, value):
    with open(sysctl_path(key), 'w') as f:
        f.write(str(value))


_NLMSGHDR = struct.Struct('=IHHII')  # length, type, flags, sequence, port
_IFINDEX = struct.Struct('=20xi')  # struct ifinfomsg's ifi_index, after the header, family and type
_IFF_UP = 1
_AF_BRIDGE = 7
_RT_TABLE_MAIN = 254
_RTPROT_STATIC = 4
_RTN_UNICAST = 1
_RT_SCOPE_UNIVERSE = 0
_IFA_F_NODAD = 0x02
_NUD_NOARP_PERMANENT = 0x40 | 0x80
_NTF_SELF = 0x02
_NLM_F_APPEND = 0x800


def _family(address):
    return socket.AF_INET6 if ':' in address else socket.AF_INET


class Rtnl:
    """A bare rtnetlink socket: pyroute2's message classes encode and decode, each request goes
    out with one send and its answer is read back in this thread.

    IPRoute runs every request through an asyncio pipeline and argument filters (0.2-0.4 ms each);
    this costs 25-50 µs, and a restore makes about eight requests per container."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self):
        self.sock.close()

    def request(self, msg, msg_type, nl_flags, attrs=(), decode=True, **fields):
        """Send one message (NLM_F_REQUEST and `nl_flags`); return the answers: the dump, the one
        object asked for, or none for an acknowledged change; decoded, or as (data, offset) where
        the caller reads a fixed field itself. A kernel error raises NetlinkError with its errno,
        as pyroute2 does."""
        for key, value in fields.items():
            msg[key] = value
        msg['attrs'] = list(attrs)
        self.seq += 1
        msg['header']['type'] = msg_type
        msg['header']['flags'] = NLM_F_REQUEST | nl_flags
        msg['header']['sequence_number'] = self.seq
        msg.encode()
        self.sock.send(msg.data)
        return self._answers(type(msg) if decode else None, dump=bool(nl_flags & NLM_F_DUMP))

    def _answers(self, cls, dump):
        out = []
        while True:
            data = self.sock.recv(65536)  # a dump's parts are smaller (NLMSG_GOODSIZE)
            offset = 0
            while offset < len(data):
                length, msg_type, _flags, seq, _port = _NLMSGHDR.unpack_from(data, offset)
                if seq == self.seq:
                    if msg_type == NLMSG_ERROR:
                        code = -struct.unpack_from('=i', data, offset + _NLMSGHDR.size)[0]
                        if code:
                            raise NetlinkError(code)
                        return out
                    if msg_type == NLMSG_DONE:
                        return out
                    if cls is None:
                        out.append((data, offset))
                    else:
                        msg = cls(data[offset:offset + length])
                        msg.decode()
                        out.append(msg)
                offset += max(length, _NLMSGHDR.size)
            if out and not dump:
                return out


class Netlink:
    """One rtnetlink socket per namespace, opened lazily and closed together."""

    def __init__(self):
        self._sockets = {}
        self._bridges = {}  # bridge name -> index, for the veths of one run; dropped on any delete

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for rtnl in self._sockets.values():
            rtnl.close()
        self._sockets = {}

    def rtnl(self, ns=None):
        """The socket for the host (ns None) or for the named container namespace: a netlink socket
        belongs to the namespace it was opened in."""
        if ns not in self._sockets:
            if ns is None:
                self._sockets[ns] = Rtnl()
            else:
                self._sockets[ns] = in_netns(ns, Rtnl)
        return self._sockets[ns]

    def forget(self, ns):
        rtnl = self._sockets.pop(ns, None)
        if rtnl is not None:
            rtnl.close()

    def _link_request(self, ns, msg_type, nl_flags, attrs=(), decode=True, **fields):
        return self.rtnl(ns).request(ifinfmsg(), msg_type, nl_flags, attrs, decode, **fields)

    # ---- reading -------------------------------------------------------------------------
    def index(self, name, ns=None):
        """The index of a link by name (one targeted request, no dump), or None."""
        answer = self._get(name, ns, decode=False)
        return _IFINDEX.unpack_from(*answer)[0] if answer is not None else None

    def _get(self, name, ns, decode=True):
        try:
            for msg in self._link_request(ns, RTM_GETLINK, 0, [('IFLA_IFNAME', name)], decode=decode):
                return msg
        except NetlinkError as e:
            if e.code != errno.ENODEV:
                raise
        return None

    def _addrs(self, ns, index=None):
        """Addresses by link index, from one dump (the kernel filters by index when asked): IPv4 ones
        and global IPv6 ones (link-local and ::1 are the kernel's own, never the registry's)."""
        out = {}
        for a in self.rtnl(ns).request(ifaddrmsg(), RTM_GETADDR, NLM_F_DUMP, family=socket.AF_UNSPEC,
                                       index=index or 0):
            if a['family'] == socket.AF_INET6 and a['scope'] != _RT_SCOPE_UNIVERSE:
                continue
            if a['family'] in (socket.AF_INET, socket.AF_INET6) and (index is None or a['index'] == index):
                out.setdefault(a['index'], []).append(a)
        return out

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
        return self._link_dict(msg, self._addrs(ns, msg['index']).get(msg['index'], []))

    def links(self, ns=None):
        """Every link of a namespace, from one link dump and one address dump."""
        addrs = self._addrs(ns)
        return [self._link_dict(msg, addrs.get(msg['index'], []))
                for msg in self._link_request(ns, RTM_GETLINK, NLM_F_DUMP)]

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
            'up': bool(msg['flags'] & _IFF_UP),
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

    def set_ipv6(self, ifname, on, ns=None):
        """IPv6 on (without DAD) or off for one interface."""
        switch = enable_ipv6_here if on else disable_ipv6_here
        if ns is None:
            switch((ifname,))
        else:
            in_netns(ns, lambda: switch((ifname,)))

    def enable_ipv6(self, *ifnames, **kw):
        in_netns(kw['ns'], lambda: enable_ipv6_here(ifnames))

    def default_gateway(self, ns=None, family=4):
        af = socket.AF_INET6 if family == 6 else socket.AF_INET
        for route in self.rtnl(ns).request(rtmsg(), RTM_GETROUTE, NLM_F_DUMP, family=af):
            table = route.get_attr('RTA_TABLE') or route['table']
            if table == _RT_TABLE_MAIN and route['dst_len'] == 0 and route.get_attr('RTA_GATEWAY'):
                return route.get_attr('RTA_GATEWAY')
        return None

    # ---- writing -------------------------------------------------------------------------
    def add_bridge(self, name, mtu=None):
        self._bridges.pop(name, None)
        attrs = [('IFLA_IFNAME', name), ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'bridge')]})]
        if mtu:
            attrs.append(('IFLA_MTU', mtu))
        self._link_request(None, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, attrs)
        return self.link(name)

    def set_link(self, index, ns=None, state=None, master=None, mtu=None, address=None):
        attrs = [(key, value) for key, value in (('IFLA_MASTER', master), ('IFLA_MTU', mtu),
                                                 ('IFLA_ADDRESS', address)) if value is not None]
        up = {} if state is None else {'flags': _IFF_UP if state == 'up' else 0, 'change': _IFF_UP}
        self._link_request(ns, RTM_NEWLINK, NLM_F_ACK, attrs, index=index, **up)

    def set_hairpin(self, index):
        """Let a bridge port send frames back out where they came in (published-port hairpin)."""
        self._link_request(None, RTM_NEWLINK, NLM_F_ACK, [('IFLA_LINKINFO', {'attrs': [
            ('IFLA_INFO_SLAVE_KIND', 'bridge'),
            ('IFLA_INFO_SLAVE_DATA', {'attrs': [('IFLA_BRPORT_MODE', 1)]})]})], index=index)

    def delete_link(self, index, ns=None):
        self._bridges = {}
        try:
            self._link_request(ns, RTM_DELLINK, NLM_F_ACK, index=index)
        except NetlinkError as e:
            if e.code != errno.ENODEV:
                raise

    def add_addr(self, index, cidr, ns=None):
        self._addr_request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, index, cidr, ns)

    def del_addr(self, index, cidr, ns=None):
        self._addr_request(RTM_DELADDR, NLM_F_ACK, index, cidr, ns)

    def _addr_request(self, msg_type, nl_flags, index, cidr, ns):
        address, prefixlen = cidr.split('/')
        attrs = [('IFA_LOCAL', address), ('IFA_ADDRESS', address)]
        if ':' in address:  # leased, not autoconfigured: usable at once (no DAD)
            attrs = [('IFA_ADDRESS', address), ('IFA_FLAGS', _IFA_F_NODAD)]
        self.rtnl(ns).request(ifaddrmsg(), msg_type, nl_flags, attrs, family=_family(address),
                              prefixlen=int(prefixlen), index=index)

    def replace_default_route(self, gateway, ns=None):
        self.rtnl(ns).request(rtmsg(), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
                              [('RTA_GATEWAY', gateway)], family=_family(gateway), table=_RT_TABLE_MAIN,
                              proto=_RTPROT_STATIC, scope=0, type=_RTN_UNICAST)

    def add_veth(self, host_name, peer_name, ns, master, mtu, mac):
        """A veth pair in one request: the host end on its bridge and up, the peer created straight
        inside the container namespace with its MAC and MTU (the kernel does not take the peer's
        up flag here, so the caller brings it up with its address)."""
        fd = os.open(netns_path(ns), os.O_RDONLY)
        try:
            peer = {'attrs': [('IFLA_IFNAME', peer_name), ('IFLA_NET_NS_FD', fd), ('IFLA_ADDRESS', mac),
                              ('IFLA_MTU', mtu)]}
            self._link_request(None, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, [
                ('IFLA_IFNAME', host_name), ('IFLA_MASTER', master), ('IFLA_MTU', mtu),
                ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'veth'),
                                             ('IFLA_INFO_DATA', {'attrs': [('VETH_INFO_PEER', peer)]})]})],
                flags=_IFF_UP, change=_IFF_UP)
        finally:
            os.close(fd)

    # ---- overlays ------------------------------------------------------------------------
    def add_vxlan(self, name, vni, local, port, mtu, master):
        """A VXLAN port for a bridge: its VNI, the host's underlay address, no learning (the FDB
        is written, never learnt: a forged frame cannot teach it a MAC)."""
        self._link_request(None, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, [
            ('IFLA_IFNAME', name), ('IFLA_MTU', mtu), ('IFLA_MASTER', master),
            ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'vxlan'), ('IFLA_INFO_DATA', {'attrs': [
                ('IFLA_VXLAN_ID', vni), ('IFLA_VXLAN_LOCAL', local), ('IFLA_VXLAN_PORT', port),
                ('IFLA_VXLAN_LEARNING', 0)]})]})], flags=_IFF_UP, change=_IFF_UP)

    def add_wireguard(self, name):
        """The kernel's WireGuard link (NetlinkError EOPNOTSUPP where the kernel has none)."""
        self._link_request(None, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, [
            ('IFLA_IFNAME', name), ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'wireguard')]})])

    def vxlan_info(self, name):
        """(vni, local, port) of a VXLAN link, or None."""
        msg = self._get(name, None)
        info = msg.get_attr('IFLA_LINKINFO') if msg is not None else None
        if info is None or info.get_attr('IFLA_INFO_KIND') != 'vxlan':
            return None
        data = info.get_attr('IFLA_INFO_DATA')
        return data.get_attr('IFLA_VXLAN_ID'), data.get_attr('IFLA_VXLAN_LOCAL'), data.get_attr('IFLA_VXLAN_PORT')

    def gateway_routes(self):
        """Routes of the host's main table via a gateway: {'DST/LEN': gateway} (IPv4)."""
        out = {}
        for route in self.rtnl().request(rtmsg(), RTM_GETROUTE, NLM_F_DUMP, family=socket.AF_INET):
            table = route.get_attr('RTA_TABLE') or route['table']
            if table == _RT_TABLE_MAIN and route['dst_len'] and route.get_attr('RTA_GATEWAY'):
                out['%s/%d' % (route.get_attr('RTA_DST'), route['dst_len'])] = route.get_attr('RTA_GATEWAY')
        return out

    def replace_route(self, dst, gateway):
        """A route to a peer's block via its underlay address (routed overlays)."""
        address, prefixlen = dst.split('/')
        self.rtnl().request(rtmsg(), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
                            [('RTA_DST', address), ('RTA_GATEWAY', gateway)], family=socket.AF_INET,
                            dst_len=int(prefixlen), table=_RT_TABLE_MAIN, proto=_RTPROT_STATIC, scope=0,
                            type=_RTN_UNICAST)

    def delete_route(self, dst, gateway):
        address, prefixlen = dst.split('/')
        try:
            self.rtnl().request(rtmsg(), RTM_DELROUTE, NLM_F_ACK, [('RTA_DST', address), ('RTA_GATEWAY', gateway)],
                                family=socket.AF_INET, dst_len=int(prefixlen), table=_RT_TABLE_MAIN)
        except NetlinkError as e:
            if e.code != errno.ESRCH:
                raise

    def fdb(self, index):
        """The static FDB entries of a VXLAN link: sorted (mac, dst)."""
        out = []
        for msg in self.rtnl().request(ndmsg(), RTM_GETNEIGH, NLM_F_DUMP, family=_AF_BRIDGE):
            if msg['ifindex'] == index and msg.get_attr('NDA_DST'):
                out.append((msg.get_attr('NDA_LLADDR'), msg.get_attr('NDA_DST')))
        return sorted(out)

    def fdb_add(self, index, mac, dst):
        """Append an entry (the all-zeros MAC takes one per peer: head-end replication)."""
        self.rtnl().request(ndmsg(), RTM_NEWNEIGH, NLM_F_CREATE | _NLM_F_APPEND | NLM_F_ACK,
                            [('NDA_LLADDR', mac), ('NDA_DST', dst)], family=_AF_BRIDGE, ifindex=index,
                            state=_NUD_NOARP_PERMANENT, flags=_NTF_SELF)

    def fdb_del(self, index, mac, dst):
        self.rtnl().request(ndmsg(), RTM_DELNEIGH, NLM_F_ACK, [('NDA_LLADDR', mac), ('NDA_DST', dst)],
                            family=_AF_BRIDGE, ifindex=index, state=_NUD_NOARP_PERMANENT, flags=_NTF_SELF)

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
    """Ports with a bound socket in this namespace: {port: set(addresses)} ('0.0.0.0', '::' for any).

    TCP counts listeners only, UDP every bound socket; an IPv6 wildcard socket counts as any address
    of both families (it may take IPv4 too).
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
            elif set(addr_hex) == {'0'}:
                out.setdefault(int(port_hex, 16), set()).update(('0.0.0.0', '::'))
                continue
            else:  # four host-order 32-bit words
                raw = bytes.fromhex(addr_hex)
                addr = socket.inet_ntop(socket.AF_INET6, b''.join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            out.setdefault(int(port_hex, 16), set()).add(addr)
    return out


def host_addresses(netlink):
    """Every IPv4 and global IPv6 address of the host namespace, with the name of the link holding it."""
    addrs = {}
    for link in netlink.links():
        addrs.update((a.split('/')[0], link['name']) for a in link['addrs'])
    return addrs
