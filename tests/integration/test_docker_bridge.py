"""docker_bridge against a real kernel, with real traffic, inside a lab namespace."""

import pytest

from labhost import BACKEND, break_rules, can_ping, iptables_save, owned_rules, sh, tcp_request

UPSTREAM_LAB = '10.250.0.1/24'
UPSTREAM_PEER = '10.250.0.2/24'
UPSTREAM_IP = '10.250.0.2'
# Rules of "other tools" present before every run: a user's filter rules, Docker's chains, nat and raw.
FOREIGN_RULES = """*filter
:DOCKER-USER - [0:0]
:DOCKER - [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A DOCKER-USER -j RETURN
-A OUTPUT -d 192.0.2.7/32 -j REJECT
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
*raw
-A PREROUTING -d 198.51.100.9/32 -j DROP
COMMIT
*mangle
-A POSTROUTING -p udp -m udp --dport 68 -j ACCEPT
COMMIT
"""

# A table of the user's (or firewalld's, or Docker 29's): never touched, by either backend.
FOREIGN_TABLE = """table inet userfw {
    set blocked {
        type ipv4_addr
        elements = { 192.0.2.9 }
    }

    chain input {
        type filter hook input priority filter; policy accept;
        ip saddr @blocked drop
    }
}
"""


def bridge(lab, **kw):
    args = dict(name=lab.name('br'), subnet='10.77.0.0/24')
    args.update(kw)
    return lab.module('docker_bridge', **args)


def served_peer_address(lab, client_ns, server_ns, ip, port=7070):
    """Which source address a TCP server in `server_ns` sees for a connection from `client_ns`."""
    lab.echo(server_ns, '{peer}\n', tcp=[port])
    return (tcp_request(lab, client_ns, ip, port) or '').strip() or None


def test_present_reaches_gateway_and_masquerades_upstream(lab):
    up = lab.add_peer('up', UPSTREAM_LAB, UPSTREAM_PEER)
    result = bridge(lab)
    assert result['changed'] and not result.get('failed'), result
    assert result['bridge']['gateway'] == '10.77.0.1'
    assert lab.sh('cat /proc/sys/net/ipv4/ip_forward').stdout.strip() == '1'
    c1 = lab.attach_plain_ns('c1', lab.name('br'), '10.77.0.2/24', '10.77.0.1')
    assert can_ping(lab, c1, '10.77.0.1')
    # The upstream has no route back to 10.77.0.0/24: only a masqueraded reply can arrive.
    assert served_peer_address(lab, c1, up, UPSTREAM_IP) == '10.250.0.1'


def test_internal_bridge_does_not_reach_upstream(lab):
    up = lab.add_peer('up', UPSTREAM_LAB, UPSTREAM_PEER)
    assert bridge(lab, internal=True)['changed']
    c1 = lab.attach_plain_ns('c1', lab.name('br'), '10.77.0.2/24', '10.77.0.1')
    assert can_ping(lab, c1, '10.77.0.1')
    assert served_peer_address(lab, c1, up, UPSTREAM_IP) is None
    assert not can_ping(lab, c1, UPSTREAM_IP)


@pytest.mark.parametrize('icc', [True, False])
def test_icc_controls_traffic_between_containers(lab, icc):
    result = bridge(lab, icc=icc)
    assert result['changed'] and result['bridge']['icc'] is icc
    c1 = lab.attach_plain_ns('c1', lab.name('br'), '10.77.0.2/24', '10.77.0.1')
    c2 = lab.attach_plain_ns('c2', lab.name('br'), '10.77.0.3/24', '10.77.0.1')
    if not icc:
        assert lab.sh('cat /proc/sys/net/bridge/bridge-nf-call-iptables').stdout.strip() == '1'
    assert can_ping(lab, c1, '10.77.0.3') is icc
    assert can_ping(lab, c2, '10.77.0.2') is icc
    assert can_ping(lab, c1, '10.77.0.1')  # the gateway stays reachable either way


def test_second_run_changes_nothing(lab):
    assert bridge(lab, icc=False, mtu=1400)['changed']
    before = lab.snapshot()
    again = bridge(lab, icc=False, mtu=1400)
    assert again['changed'] is False
    assert lab.snapshot() == before


def test_check_mode_predicts_and_changes_nothing(lab):
    before = lab.snapshot()
    predicted = bridge(lab, check_mode=True)
    assert predicted['changed'] is True
    assert lab.snapshot() == before
    assert bridge(lab)['changed'] is True
    assert bridge(lab, check_mode=True)['changed'] is False
    changed = lab.snapshot()
    assert bridge(lab, check_mode=True, icc=False)['changed'] is True
    assert lab.snapshot() == changed


def test_diff_mode_shows_rules_that_would_change(lab):
    assert bridge(lab)['changed']
    result = bridge(lab, diff=True, check_mode=True, icc=False)
    rules = [d for d in result['diff'] if d.get('before_header', '').startswith(BACKEND)][0]
    br = lab.name('br')
    if BACKEND == 'nftables':
        assert 'iifname "%s" oifname "%s" accept' % (br, br) in rules['before']
        assert 'iifname "%s" oifname "%s" drop' % (br, br) in rules['after']
    else:
        assert '-i %s -o %s -m comment --comment "cnet:bridge:%s" -j ACCEPT' % (br, br, br) in rules['before']
        assert '-i %s -o %s -m comment --comment "cnet:bridge:%s" -j DROP' % (br, br, br) in rules['after']
    registry = [d for d in result['diff'] if d.get('before_header', '').startswith('docker_bridge')][0]
    assert registry['before']['icc'] is True and registry['after']['icc'] is False


def test_foreign_rules_untouched_by_present_and_absent(lab):
    lab.sh("iptables-restore <<'EOF'\n%sEOF" % FOREIGN_RULES)
    lab.sh("nft -f - <<'EOF'\n%sEOF" % FOREIGN_TABLE)
    before = iptables_save(lab)
    foreign_table = lab.sh('nft list table inet userfw').stdout

    def foreign(text):
        return [line for line in text.splitlines() if 'cnet' not in line.lower()]

    assert bridge(lab, icc=False)['changed']
    during = iptables_save(lab)
    assert 'CNET-FORWARD' in during
    assert foreign(during) == foreign(before)
    assert lab.sh('nft list table inet userfw').stdout == foreign_table
    assert bridge(lab, state='absent')['changed']
    assert iptables_save(lab) == before
    assert lab.sh('nft list table inet userfw').stdout == foreign_table
    assert lab.sh('nft list table inet container_net', check=False).returncode != 0


def test_absent_leaves_nothing(lab):
    before = lab.snapshot()
    assert bridge(lab, icc=False)['changed']
    result = bridge(lab, state='absent')
    assert result['changed'] and result['bridge'] == {}
    assert lab.snapshot() == before
    assert bridge(lab, state='absent')['changed'] is False


@pytest.mark.parametrize('args, field', [
    (dict(subnet='10.0.0.0/33'), 'subnet'),
    (dict(subnet='10.0.0.0/24', gateway='10.0.1.1'), 'gateway'),
    (dict(subnet='10.0.0.0/24', ip_range='10.0.1.0/25'), 'ip_range'),
    (dict(name='a' * 16, subnet='10.0.0.0/24'), 'name'),
    (dict(subnet='10.0.0.0/24', mtu=10), 'mtu'),
    (dict(name='NONBRIDGE', subnet='10.0.0.0/24'), 'name'),
    (dict(subnet='10.0.0.0/24', host_binding_ipv4='300.1.1.1'), 'host_binding_ipv4'),
])
def test_bad_input_fails_naming_field_and_changes_nothing(lab, args, field):
    # An existing bridge and a veth make the host non-trivial to leave alone.
    assert bridge(lab, name=lab.name('ok'), subnet='10.66.0.0/24')['changed']
    dummy = lab.name('dm')
    lab.sh('ip link add %s type veth peer name %sp' % (dummy, dummy))
    if args.get('name') == 'NONBRIDGE':
        args['name'] = dummy
    before = lab.snapshot()
    result = bridge(lab, **args)
    assert result.get('failed'), result
    assert result['msg'].startswith(field + ' ') or ("%s '" % field) in result['msg'], result['msg']
    assert lab.snapshot() == before


def test_overlapping_subnet_is_refused(lab):
    assert bridge(lab, name=lab.name('b1'), subnet='10.70.0.0/16')['changed']
    before = lab.snapshot()
    result = bridge(lab, name=lab.name('b2'), subnet='10.70.5.0/24')
    assert result.get('failed') and 'overlaps' in result['msg']
    assert lab.snapshot() == before


def test_firewall_reload_is_repaired_by_a_rerun(lab):
    assert bridge(lab, icc=False)['changed']
    rules = owned_rules(lab)
    break_rules(lab, 'iptables -F FORWARD && iptables -F CNET-FORWARD', 'forward')
    result = bridge(lab, icc=False)
    assert result['changed'] is True
    assert owned_rules(lab) == rules


def test_through_ansible_playbook_idempotent(lab):
    play = """
- hosts: localhost
  gather_facts: false
  tasks:
    - seed.container_net.docker_bridge:
        name: %s
        subnet: 10.78.0.0/24
        icc: false
        registry_dir: "{{ registry_dir }}"
      register: br
    - ansible.builtin.assert:
        that: br.bridge.subnet == '10.78.0.0/24'
""" % lab.name('br')
    first = lab.playbook(play)
    assert 'changed=1' in first.stdout
    second = lab.playbook(play)
    assert 'changed=0' in second.stdout and 'failed=0' in second.stdout


def test_ansible_doc_renders(collections_path):
    import os
    import sys
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path)
    out = sh([os.path.join(os.path.dirname(sys.executable), 'ansible-doc'), 'seed.container_net.docker_bridge'],
             env=env)
    assert 'host_binding_ipv4' in out.stdout and 'icc' in out.stdout
