"""container_netns against a real kernel: namespaces, veths, IPAM, files, real traffic."""

import os
import subprocess
import threading

import pytest

from labhost import can_ping, sh, tcp_request

UPSTREAM_LAB = '10.250.0.1/24'
UPSTREAM_PEER = '10.250.0.2/24'


def bridge(lab, short='br', subnet='10.80.0.0/24', **kw):
    result = lab.module('docker_bridge', name=lab.name(short), subnet=subnet, **kw)
    assert not result.get('failed'), result
    return lab.name(short)


def container(lab, short, **kw):
    return lab.module('container_netns', name=lab.name(short), **kw)


def test_two_containers_ping_and_resolve_own_hostname(lab):
    br = bridge(lab)
    a = container(lab, 'a', bridge=br, hostname='alpha')
    b = container(lab, 'b', bridge=br)
    assert a['changed'] and b['changed']
    assert a['container']['ip'] == '10.80.0.2' and b['container']['ip'] == '10.80.0.3'
    assert len(b['container']['hostname']) == 12 and int(b['container']['hostname'], 16) >= 0
    assert can_ping(lab, lab.name('a'), '10.80.0.3')
    assert can_ping(lab, lab.name('b'), '10.80.0.2')
    # ip netns exec bind-mounts /etc/netns/NAME/hosts over /etc/hosts
    out = lab.in_ns(lab.name('a'), 'getent hosts alpha').stdout
    assert out.split() == ['10.80.0.2', 'alpha']
    hosts = open('/etc/netns/%s/hosts' % lab.name('a')).read()
    assert hosts.startswith('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n')
    assert hosts.endswith('10.80.0.2\talpha\n')


def test_container_reaches_upstream_through_masquerade(lab):
    up = lab.add_peer('up', UPSTREAM_LAB, UPSTREAM_PEER)
    br = bridge(lab)
    c = container(lab, 'c', bridge=br)
    assert c['changed']
    lab.echo(up, '{peer}\n', tcp=[7071])
    assert tcp_request(lab, lab.name('c'), '10.250.0.2', 7071) == '10.250.0.1\n'


def test_container_on_two_networks_reaches_both_and_connect_disconnect_is_surgical(lab):
    b1 = bridge(lab, 'b1', '10.81.0.0/24')
    b2 = bridge(lab, 'b2', '10.82.0.0/24')
    peer1 = container(lab, 'p1', bridge=b1)['container']['ip']
    peer2 = container(lab, 'p2', bridge=b2)['container']['ip']
    multi = container(lab, 'm', networks=[{'bridge': b1}])
    assert multi['container']['networks'][0]['ifname'] == 'eth0'
    eth0_before = lab.in_ns(lab.name('m'), 'ip -d link show eth0; ip addr show eth0').stdout

    connected = container(lab, 'm', networks=[{'bridge': b1}, {'bridge': b2}])
    assert connected['changed']
    assert [n['ifname'] for n in connected['container']['networks']] == ['eth0', 'eth1']
    assert can_ping(lab, lab.name('m'), peer1) and can_ping(lab, lab.name('m'), peer2)
    assert lab.in_ns(lab.name('m'), 'ip -d link show eth0; ip addr show eth0').stdout == eth0_before

    disconnected = container(lab, 'm', networks=[{'bridge': b2}])
    assert disconnected['changed']
    assert [n['ifname'] for n in disconnected['container']['networks']] == ['eth1']
    assert lab.in_ns(lab.name('m'), 'ip link show eth0', check=False).returncode != 0
    assert can_ping(lab, lab.name('m'), peer2)
    assert container(lab, 'm', networks=[{'bridge': b2}])['changed'] is False


def test_deleted_netns_is_recreated_with_same_address_mac_and_files(lab):
    br = bridge(lab)
    first = container(lab, 'r', bridge=br, exposed_ports=['80/tcp'], env={'K': 'value-1'})
    ns = lab.name('r')
    files = dict((f, open(f).read()) for f in first['container']['files'])
    mac = lab.in_ns(ns, 'cat /sys/class/net/eth0/address').stdout
    sh(['ip', 'netns', 'del', ns])
    again = container(lab, 'r', bridge=br, exposed_ports=['80/tcp'], env={'K': 'value-1'})
    assert again['changed'] is True
    assert again['container']['ip'] == first['container']['ip']
    assert lab.in_ns(ns, 'cat /sys/class/net/eth0/address').stdout == mac
    assert dict((f, open(f).read()) for f in again['container']['files']) == files
    assert can_ping(lab, ns, '10.80.0.1')


def test_second_run_and_check_mode_change_nothing(lab):
    br = bridge(lab)
    before = lab.snapshot()
    assert container(lab, 'i', bridge=br, check_mode=True)['changed'] is True
    assert lab.snapshot() == before
    assert container(lab, 'i', bridge=br, hostname='ihost')['changed'] is True
    applied = lab.snapshot()
    assert container(lab, 'i', bridge=br, hostname='ihost')['changed'] is False
    assert container(lab, 'i', bridge=br, hostname='ihost', check_mode=True)['changed'] is False
    assert container(lab, 'i', bridge=br, hostname='other', check_mode=True)['changed'] is True
    assert lab.snapshot() == applied


def test_env_file_is_private_and_env_is_not_logged(lab):
    br = bridge(lab)
    result = container(lab, 's', bridge=br, env={'PASSWORD': 's3cr3t value', 'EMPTY': ''}, diff=True)
    env_file = '/etc/netns/%s/environment' % lab.name('s')
    assert oct(os.stat(env_file).st_mode & 0o777) == '0o600'
    assert 's3cr3t' not in str(result)
    assert result['container']['env_keys'] == ['EMPTY', 'PASSWORD']


def test_fifty_containers_created_and_removed_leave_host_identical(lab):
    bridge(lab, subnet='10.83.0.0/24')
    before_bridge_only = lab.snapshot()
    names = ['n%02d' % i for i in range(50)]
    # Two concurrent writers: the registry lock must never hand out one address twice.
    errors = []

    def create(chunk):
        for n in chunk:
            r = container(lab, n, bridge=lab.name('br'))
            if r.get('failed'):
                errors.append(r['msg'])
    threads = [threading.Thread(target=create, args=(names[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ips = [lab.in_ns(lab.name(n), "ip -4 -o addr show eth0 | awk '{print $4}'").stdout.strip() for n in names]
    assert len(set(ips)) == 50
    assert can_ping(lab, lab.name('n00'), ips[-1].split('/')[0])
    for n in names:
        assert container(lab, n, state='absent')['changed']
    assert lab.snapshot() == before_bridge_only


@pytest.mark.parametrize('kwargs, field', [
    (dict(short='bad name!', bridge='@br'), 'name'),
    (dict(short='x', bridge='nosuchbridge'), 'networks[0].bridge'),
    (dict(short='x', networks=[{'bridge': '@br', 'ip': '10.99.0.5'}]), 'networks[0].ip'),
    (dict(short='x', networks=[{'bridge': '@br', 'ip': '@taken'}]), 'networks[0].ip'),
    (dict(short='x', bridge='@br', exposed_ports=['0']), 'exposed_ports[0]'),
    (dict(short='x', bridge='@br', exposed_ports=['80/tcp', '65536']), 'exposed_ports[1]'),
    (dict(short='x', bridge='@br', exposed_ports=['abc/tcp']), 'exposed_ports[0]'),
    (dict(short='x', bridge='@br', exposed_ports=['80/icmp']), 'exposed_ports[0]'),
    (dict(short='x', bridge='@small'), 'networks'),
])
def test_bad_input_fails_naming_field_and_changes_nothing(lab, kwargs, field):
    br = bridge(lab)
    small = bridge(lab, 'sm', '10.84.0.0/30')  # one usable address besides the gateway
    taken = container(lab, 'held', bridge=br)['container']['ip']
    assert container(lab, 'fill', bridge=small)['changed']
    before = lab.snapshot()
    short = kwargs.pop('short')
    name = short if ' ' in short else lab.name(short)
    for key, value in list(kwargs.items()):
        if value == '@br':
            kwargs[key] = br
        elif value == '@small':
            kwargs[key] = small
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            kwargs[key] = [dict(v, bridge=br, ip=taken if v.get('ip') == '@taken' else v['ip']) for v in value]
    result = lab.module('container_netns', name=name, **kwargs)
    assert result.get('failed'), result
    assert result['msg'].startswith(field) or "%s '" % field in result['msg'], result['msg']
    assert lab.snapshot() == before


def test_absent_removes_files_leases_and_frees_the_address(lab):
    br = bridge(lab)
    before = lab.snapshot()
    first = container(lab, 'g', bridge=br)
    assert container(lab, 'g', state='absent')['changed']
    assert lab.snapshot() == before
    assert not os.path.exists('/etc/netns/%s' % lab.name('g'))
    assert container(lab, 'h', bridge=br)['container']['ip'] == first['container']['ip']


def test_systemd_style_consumer_can_use_the_namespace(lab):
    br = bridge(lab)
    path = container(lab, 'u', bridge=br)['container']['netns_path']
    # nsenter by path is what NetworkNamespacePath= does.
    out = subprocess.run(['nsenter', '--net=%s' % path, 'ip', '-4', '-o', 'addr', 'show', 'eth0'],
                         capture_output=True, text=True, check=True).stdout
    assert '10.80.0.2/24' in out


def test_private_mount_namespace_is_refused_before_any_change(lab):
    """Under `ip netns exec` a new namespace's bind mount would exist only in the module's own mount
    namespace and vanish with it: the module refuses, naming why, and changes nothing."""
    br = bridge(lab)
    before = lab.snapshot()
    result = lab.module('container_netns', name=lab.name('pm'), bridge=br, private_mounts=True)
    assert result.get('failed') and 'private mount namespace' in result['msg'], result
    assert result['msg'].startswith('name: cannot create network namespace %s' % lab.name('pm'))
    assert 'Traceback' not in str(result)
    assert lab.snapshot() == before
    # control: the same call from the host's mount namespace works, and a container that exists
    # already may be converged from a private one (nothing new to mount)
    assert lab.ok('container_netns', name=lab.name('pm'), bridge=br)['changed']
    again = lab.module('container_netns', name=lab.name('pm'), bridge=br, private_mounts=True)
    assert not again.get('failed') and again['changed'] is False, again


def test_a_kernel_refusal_names_the_step_without_a_traceback(lab):
    """A namespace made behind the collection's back already holds an eth0 that is not a veth."""
    br = bridge(lab)
    name = lab.name('kx')
    sh(['ip', 'netns', 'add', name])
    lab.in_ns(name, 'ip link add eth0 type bridge')
    result = lab.module('container_netns', name=name, bridge=br)
    assert result.get('failed'), result
    assert 'create veth' in result['msg'] and name in result['msg'] and 'the kernel refused' in result['msg'], result
    assert 'Traceback' not in result['msg'] and 'exception' not in result, result
    # the registry says the run did not finish; with the cause gone, the next run completes it
    assert 'unfinished' in result['msg'] and lab.ok('container_net_info')['drift']['unfinished_run'] is True
    lab.in_ns(name, 'ip link del eth0')
    assert lab.ok('container_netns', name=name, bridge=br)['changed']
    info = lab.ok('container_net_info')
    assert info['drift']['unfinished_run'] is False and info['drift']['in_sync'] is True
