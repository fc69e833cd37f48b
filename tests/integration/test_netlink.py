"""The bare rtnetlink socket (`_netlink.Rtnl`) against the real kernel, inside a lab namespace:
answers read back whole (dumps larger than one datagram), errors carried as pyroute2's, and the
light pyroute2 import that keeps a restore's fixed cost down."""

import errno
import json
import os
import sys

from labhost import sh

PRELUDE = '''
import json, sys
from ansible_collections.seed.container_net.plugins.module_utils._netlink import Netlink, NetlinkError
'''


def lab_python(lab, code):
    """Run `code` in a fresh interpreter inside the lab's namespace; what it prints as JSON."""
    out = sh(['nsenter', '--net=/run/netns/%s' % lab.ns, sys.executable, '-c', PRELUDE + code],
             env=dict(os.environ, PYTHONPATH=lab.collections_path))
    return json.loads(out.stdout)


def test_dumps_longer_than_one_datagram_come_back_whole_and_lookups_answer(lab):
    out = lab_python(lab, '''
with Netlink() as netlink:
    names = ['cnb%d' % i for i in range(300)]  # a dump of 300 links spans many datagrams
    for name in names:
        netlink.add_bridge(name, mtu=1400)
    links = dict((link['name'], link) for link in netlink.links())
    indexes = dict((name, netlink.index(name)) for name in names)
    netlink.add_addr(indexes['cnb7'], '10.77.0.1/24')
    netlink.set_link(indexes['cnb7'], state='up')
    cnb7 = netlink.link('cnb7')
    print(json.dumps({
        'unlisted': sorted(set(names) - set(links)),
        'indexes_match': all(links[n]['index'] == indexes[n] for n in names),
        'mtu': sorted(set(links[n]['mtu'] for n in names)),
        'kind': sorted(set(links[n]['kind'] for n in names)),
        'missing': netlink.index('cnb-none'),
        'lo': netlink.index('lo'),
        'cnb7': [cnb7['addrs'], cnb7['up']],
    }))
''')
    assert out == {'unlisted': [], 'indexes_match': True, 'mtu': [1400], 'kind': ['bridge'], 'missing': None,
                   'lo': 1, 'cnb7': [['10.77.0.1/24'], True]}
    assert 'inet 10.77.0.1/24' in lab.sh('ip addr show cnb7').stdout  # the kernel agrees with the read-back
    assert lab.sh('ip -o link show type bridge | wc -l').stdout.strip() == '300'


def test_a_refusal_is_pyroute2s_netlink_error_with_the_errno(lab):
    out = lab_python(lab, '''
with Netlink() as netlink:
    netlink.add_bridge('cnbdup')
    try:
        netlink.add_bridge('cnbdup')
        print(json.dumps(None))
    except NetlinkError as e:
        print(json.dumps([e.code, netlink.index('cnbdup') is not None]))
''')
    assert out == [errno.EEXIST, True]


def test_the_light_import_leaves_pyroute2s_apis_out_until_asked_for(lab):
    out = lab_python(lab, '''
heavy = sorted(m for m in ('asyncio', 'pyroute2.ndb', 'pyroute2.ipdb', 'pyroute2.iproute') if m in sys.modules)
from ansible_collections.seed.container_net.plugins.module_utils import _netlink
from pyroute2 import IPRoute, NetlinkError as Whole
import pyroute2
print(json.dumps([heavy, IPRoute.__module__, Whole is _netlink.NetlinkError, hasattr(pyroute2, 'NDB')]))
''')
    assert out == [[], 'pyroute2.iproute.linux', True, True]
