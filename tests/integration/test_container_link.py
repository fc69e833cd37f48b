"""container_link against a real kernel: Docker's env, hosts lines and icc rules, real servers and clients."""

import os
import shutil
import sys

import pytest

from labhost import BACKEND, ROOT, iptables_save, link_elements, owned_rules, tcp_request, udp_request

sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit'))
import oracle  # noqa: E402  pylint: disable=wrong-import-position

CONTAINER_EXEC = os.path.join(ROOT, 'roles', 'host', 'files', 'container-exec')
LABDB_ENV = {'POSTGRES_PASSWORD': 'secret', 'MULTI_WORD': 'a b  c', 'EMPTY': '',
             'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'IMG_VAR': 'from-image'}


def setup_pair(lab, icc=True, subnet='10.85.0.0/24', db_ports=('5432/tcp', '53/udp', '8080/tcp')):
    br = lab.name('br')
    assert lab.ok('docker_bridge', name=br, subnet=subnet, icc=icc)['changed']
    lab.ok('container_netns', name=lab.name('db'), bridge=br, hostname='dbhost', exposed_ports=list(db_ports),
           env=LABDB_ENV)
    lab.ok('container_netns', name=lab.name('web'), bridge=br)
    lab.ok('container_netns', name=lab.name('other'), bridge=br)
    return br


def link(lab, alias=None, receiver='web', source='db', **kw):
    return lab.module('container_link', receiver=lab.name(receiver), source=lab.name(source),
                      alias=alias, **kw)


def exec_env(lab, container):
    out = lab.in_ns(container, 'true')  # the namespace exists
    assert out.returncode == 0
    res = os.popen('%s %s %s -- env' % (sys.executable, CONTAINER_EXEC, container)).read()
    return dict(line.split('=', 1) for line in res.splitlines() if '=' in line)


def test_env_hosts_and_rules_match_the_docker_oracle(lab):
    br = setup_pair(lab, icc=False)
    result = link(lab, alias='my-db')
    assert result['changed'] and not result.get('failed'), result
    db_ip = lab.ok('container_netns', name=lab.name('db'), bridge=br, hostname='dbhost',
                   exposed_ports=['5432/tcp', '53/udp', '8080/tcp'], env=LABDB_ENV)['container']['ip']
    web = lab.name('web')
    # env: the oracle's MY_DB_* lines with Docker's addresses and receiver name replaced by ours
    expected = oracle.env_with_prefix(oracle.block_after('$ /usr/bin/docker exec labweb sh -c tr'), 'MY_DB')
    expected = dict((k, v.replace('172.17.0.2', db_ip).replace('/labweb/', '/%s/' % web)) for k, v in expected.items())
    got = exec_env(lab, web)
    assert dict((k, v) for k, v in got.items() if k.startswith('MY_DB_')) == expected
    # hosts: the oracle's layout, line for line (its own last line is the receiver's address and name)
    me = lab.ok('container_netns', name=web, bridge=br)['container']
    web_ip = me['ip']
    oracle_hosts = oracle.block_after('--- /etc/hosts inside labweb', stop=('',))
    expected_hosts = [line.replace('172.17.0.2', db_ip).replace('labdb', lab.name('db')) for line in oracle_hosts[:-1]]
    expected_hosts.append('%s\t%s' % (web_ip, me['hostname']))
    assert lab.in_ns(web, 'cat /etc/hosts').stdout.splitlines() == expected_hosts
    # rules: the oracle's six ACCEPT lines, in our chain, tagged, addresses and bridge replaced
    docker = sorted(line[len('-A DOCKER '):].replace('172.17.0.3', web_ip).replace('172.17.0.2', db_ip)
                    .replace('docker0', br)
                    for line in oracle.block_after('$ ip netns exec labdocker iptables-save', stop=('COMMIT',))
                    if line.startswith('-A DOCKER -s 172.17.0.'))
    if BACKEND == 'nftables':
        # the same three request/reply pairs, as the link set's elements (one per request rule)
        requests = [line.split() for line in docker if ' --dport ' in line]
        assert link_elements(lab) == set((br, w[1][:-3], w[3][:-3], w[9], int(w[13])) for w in requests)
        assert len(requests) == 3
    else:
        saved = iptables_save(lab).splitlines()
        ours = sorted(line.replace(' -m comment --comment "cnet:link:%s/my-db"' % web, '')[len('-A CNET-LINKS '):]
                      for line in saved if line.startswith('-A CNET-LINKS '))
        assert ours == docker and len(ours) == 6
    # the source's own hosts file is unchanged by the link
    assert lab.in_ns(lab.name('db'), 'cat /etc/hosts').stdout.splitlines()[-1] == '%s\tdbhost' % db_ip
    # the returned env masks the source's env values (they may be secrets)
    assert result['link']['env']['MY_DB_ENV_POSTGRES_PASSWORD'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert 'secret' not in str(result)


def test_two_aliases_several_links_each_removable_alone(lab):
    setup_pair(lab)
    assert link(lab, alias='first-a')['changed']
    assert link(lab, alias='second-b')['changed']
    assert link(lab, receiver='other')['changed']  # a second receiver of the same source
    web = lab.name('web')
    hosts = lab.in_ns(web, 'cat /etc/hosts').stdout
    assert '\tfirst-a dbhost %s\n' % lab.name('db') in hosts and '\tsecond-b dbhost %s\n' % lab.name('db') in hosts
    env = exec_env(lab, web)
    assert env['FIRST_A_NAME'] == '/%s/first-a' % web and env['SECOND_B_NAME'] == '/%s/second-b' % web
    assert link(lab, alias='first-a', state='absent')['changed']
    hosts = lab.in_ns(web, 'cat /etc/hosts').stdout
    assert 'first-a' not in hosts and 'second-b' in hosts
    env = exec_env(lab, web)
    assert not any(k.startswith('FIRST_A_') for k in env) and 'SECOND_B_NAME' in env
    assert exec_env(lab, lab.name('other'))['%s_NAME' % lab.name('db').upper()] == '/%s/%s' % (
        lab.name('other'), lab.name('db'))


def serve_db_ports(lab, db):
    lab.echo(db, 'pg-ok\n', tcp=[5432])
    lab.echo(db, 'dns-ok\n', udp=[53])
    lab.echo(db, 'not-exposed\n', tcp=[9999])


@pytest.mark.parametrize('icc', [False, True])
def test_icc_traffic_only_linked_ports_pass_when_icc_is_off(lab, icc):
    setup_pair(lab, icc=icc)
    db, web, other = lab.name('db'), lab.name('web'), lab.name('other')
    db_ip = lab.ok('container_netns', name=db, bridge=lab.name('br'), hostname='dbhost',
                   exposed_ports=['5432/tcp', '53/udp', '8080/tcp'], env=LABDB_ENV)['container']['ip']
    assert link(lab, alias='db')['changed']
    serve_db_ports(lab, db)
    assert tcp_request(lab, web, db_ip, 5432) == 'pg-ok\n'
    assert udp_request(lab, web, db_ip, 53) == 'dns-ok\n'
    blocked_expected = None if not icc else 'not-exposed\n'
    assert tcp_request(lab, web, db_ip, 9999) == blocked_expected          # not exposed
    assert tcp_request(lab, other, db_ip, 5432) == (None if not icc else 'pg-ok\n')  # not linked
    assert udp_request(lab, other, db_ip, 53) == (None if not icc else 'dns-ok\n')
    # removing the link closes the ports again (icc off)
    assert link(lab, alias='db', state='absent')['changed']
    assert tcp_request(lab, web, db_ip, 5432) == (None if not icc else 'pg-ok\n')


@pytest.mark.skipif(not shutil.which('redis-server'), reason='redis-server from apt is installed by scripts/bootstrap')
def test_real_redis_client_by_alias_and_by_link_env(lab):
    setup_pair(lab, icc=False, db_ports=('6379/tcp',))
    db, web = lab.name('db'), lab.name('web')
    assert link(lab, alias='cache')['changed']
    lab.serve(db, 'redis-server --port 6379 --bind 0.0.0.0 --save "" --appendonly no --protected-mode no '
                  '--dir /tmp --daemonize no', tcp=[6379])
    out = os.popen('%s %s %s -- redis-cli -h cache ping' % (sys.executable, CONTAINER_EXEC, web)).read()
    assert out.strip() == 'PONG'
    out = os.popen('%s %s %s -- sh -c \'redis-cli -h "$CACHE_PORT_6379_TCP_ADDR" -p "$CACHE_PORT_6379_TCP_PORT" '
                   'set k v && redis-cli -h cache get k\'' % (sys.executable, CONTAINER_EXEC, web)).read()
    assert out.split() == ['OK', 'v']
    # an unlinked container cannot reach it (icc off)
    out = lab.in_ns(lab.name('other'), 'timeout 3 redis-cli -h %s ping' % lab.name('db'), check=False)
    assert 'PONG' not in out.stdout


def test_source_readdressed_updates_env_hosts_and_rules(lab):
    br = setup_pair(lab, icc=False, db_ports=('5432/tcp',))
    db, web = lab.name('db'), lab.name('web')
    assert link(lab, alias='db')['changed']
    moved = lab.ok('container_netns', name=db, networks=[{'bridge': br, 'ip': '10.85.0.200'}], hostname='dbhost',
                   exposed_ports=['5432/tcp'], env=LABDB_ENV)
    assert moved['changed'] and moved['container']['ip'] == '10.85.0.200'
    assert exec_env(lab, web)['DB_PORT_5432_TCP_ADDR'] == '10.85.0.200'
    assert '10.85.0.200\tdb dbhost %s' % db in lab.in_ns(web, 'cat /etc/hosts').stdout
    assert '10.85.0.200' in owned_rules(lab)
    lab.echo(db, 'moved\n', tcp=[5432])
    assert tcp_request(lab, web, 'db', 5432) == 'moved\n'
    again = link(lab, alias='db')
    assert again['changed'] is False


def test_second_run_check_mode_and_absent(lab):
    setup_pair(lab, icc=False)
    before = lab.snapshot()
    assert link(lab, check_mode=True)['changed'] is True
    assert lab.snapshot() == before
    assert link(lab)['changed'] is True
    linked = lab.snapshot()
    assert link(lab)['changed'] is False
    assert lab.snapshot() == linked
    diff = link(lab, state='absent', check_mode=True, diff=True)
    rules = [d for d in diff['diff'] if d['before_header'].startswith(BACKEND)][0]
    needle = 'tcp . 5432' if BACKEND == 'nftables' else '--dport 5432'
    assert needle in rules['before'] and needle not in rules['after']
    assert lab.snapshot() == linked
    assert link(lab, state='absent')['changed'] is True
    assert lab.snapshot() == before


def test_removing_a_container_removes_its_links_everywhere(lab):
    setup_pair(lab, icc=False)
    before = lab.snapshot()
    assert link(lab)['changed'] and link(lab, receiver='other')['changed']
    assert lab.ok('container_netns', name=lab.name('db'), state='absent')['changed']
    assert 'CNET-LINKS -s' not in iptables_save(lab)
    assert lab.name('db') not in lab.in_ns(lab.name('web'), 'cat /etc/hosts').stdout
    other_env = exec_env(lab, lab.name('other'))
    assert 'PATH' in other_env  # container-exec ran: the empty result below is real
    assert not any(k.endswith('_NAME') for k in other_env)
    assert before['iptables'] == lab.snapshot()['iptables']


@pytest.mark.parametrize('kwargs, field', [
    (dict(receiver='ghost'), 'receiver'),
    (dict(source='ghost'), 'source'),
    (dict(receiver='db', source='db'), 'source'),
    (dict(alias='-db'), 'alias'),
    (dict(alias='db name'), 'alias'),
    (dict(alias=''), 'alias'),
    (dict(source='island'), 'source'),
])
def test_bad_input_fails_naming_field_and_changes_nothing(lab, kwargs, field):
    setup_pair(lab, icc=False)
    lab.ok('docker_bridge', name=lab.name('br2'), subnet='10.86.0.0/24')
    lab.ok('container_netns', name=lab.name('island'), bridge=lab.name('br2'))
    before = lab.snapshot()
    result = link(lab, **kwargs)
    assert result.get('failed'), result
    assert result['msg'].startswith(field + ' ') or "%s '" % field in result['msg'], result['msg']
    assert lab.snapshot() == before


def link_set(lab):
    """The lab's ipsets as {name: members} (ipset save, parsed here independently of the collection)."""
    sets = {}
    for line in lab.sh('ipset save').stdout.splitlines():
        word, name, rest = line.split(' ', 2)
        members = sets.setdefault(name, set())
        if word == 'add':
            members.add(rest)
    return sets


def serve_many_ports_and_probe(lab, db, web, other, db_ip):
    """db serves its last linked TCP port, its UDP port and an unexposed one: web reaches the
    linked two only, the unlinked neighbour none."""
    lab.echo(db, 'last-port\n', tcp=[7039])
    lab.echo(db, 'dns-ok\n', udp=[53])
    lab.echo(db, 'not-exposed\n', tcp=[9999])
    assert tcp_request(lab, web, db_ip, 7039) == 'last-port\n'
    assert udp_request(lab, web, db_ip, 53) == 'dns-ok\n'
    assert tcp_request(lab, web, db_ip, 9999) is None    # not exposed
    assert tcp_request(lab, other, db_ip, 7039) is None  # not linked


@pytest.mark.skipif(BACKEND == 'nftables', reason="the rule budget and ipsets are the iptables backend's")
def test_beyond_the_rule_budget_links_are_matched_by_one_set(lab):
    # 40 consecutive TCP ports and 53/udp: 41 port pairs, more than the 32 kept as Docker's rules
    br = setup_pair(lab, icc=False, db_ports=('7000-7039/tcp', '53/udp'))
    db, web, other = lab.name('db'), lab.name('web'), lab.name('other')
    lab.sh('ipset create %suser hash:ip && ipset add %suser 192.0.2.7' % (lab.id, lab.id))  # not ours
    user_set = lab.sh('ipset save %suser' % lab.id).stdout
    result = link(lab, alias='db')
    assert result['changed'] and result['link']['rules'] == [] and len(result['link']['set_members']) == 41
    name = 'CNET-L-' + br
    db_ip = lab.ok('container_netns', name=db, bridge=br, hostname='dbhost', exposed_ports=['7000-7039/tcp', '53/udp'],
                   env=LABDB_ENV)['container']['ip']
    web_ip = lab.ok('container_netns', name=web, bridge=br)['container']['ip']
    assert link_set(lab)[name] == set(['%s,tcp:%d,%s' % (db_ip, p, web_ip) for p in range(7000, 7040)] +
                                      ['%s,udp:53,%s' % (db_ip, web_ip)])
    assert [line for line in iptables_save(lab).splitlines() if line.startswith('-A CNET-LINKS')] == [
        '-A CNET-LINKS -i %s -o %s -m set --match-set %s %s -m comment --comment "cnet:links:%s" -j ACCEPT'
        % (br, br, name, flags, br) for flags in ('dst,dst,src', 'src,src,dst')]
    serve_many_ports_and_probe(lab, db, web, other, db_ip)
    # a second run writes nothing; a set flushed behind our back is refilled by the next run
    settled_state = lab.snapshot()
    assert link(lab, alias='db')['changed'] is False and lab.snapshot() == settled_state
    lab.sh('ipset flush ' + name)
    assert tcp_request(lab, web, db_ip, 7039) is None
    assert lab.ok('container_net_info')['drift']['firewall_tables'] == ['ipset']
    assert link(lab, alias='db')['changed'] is True and lab.snapshot() == settled_state
    # back under the budget: Docker's rule pairs again, and the set is gone
    lab.ok('container_netns', name=db, bridge=br, hostname='dbhost', exposed_ports=['7039/tcp', '53/udp'],
           env=LABDB_ENV)
    assert name not in link_set(lab)
    assert '-s %s/32 -d %s/32 -i %s -o %s -p tcp -m tcp --dport 7039' % (web_ip, db_ip, br, br) in iptables_save(lab)
    assert tcp_request(lab, web, db_ip, 7039) == 'last-port\n'
    # over it again, then removal leaves no set and no rule; the user's set is as it was
    lab.ok('container_netns', name=db, bridge=br, hostname='dbhost', exposed_ports=['7000-7039/tcp', '53/udp'],
           env=LABDB_ENV)
    assert name in link_set(lab)
    assert link(lab, alias='db', state='absent')['changed']
    assert name not in link_set(lab) and 'CNET-LINKS -i' not in iptables_save(lab)
    assert tcp_request(lab, web, db_ip, 7039) is None
    assert lab.sh('ipset save %suser' % lab.id).stdout == user_set


@pytest.mark.skipif(BACKEND != 'nftables', reason="the nftables backend's link set")
def test_nftables_matches_every_link_by_one_set_and_a_flush_is_drift_repaired(lab):
    br = setup_pair(lab, icc=False, db_ports=('7000-7039/tcp', '53/udp'))
    db, web, other = lab.name('db'), lab.name('web'), lab.name('other')
    result = link(lab, alias='db')
    assert result['changed'] and result['link']['rules'] == [] and len(result['link']['set_members']) == 41
    db_ip = lab.ok('container_netns', name=db, bridge=br, hostname='dbhost', exposed_ports=['7000-7039/tcp', '53/udp'],
                   env=LABDB_ENV)['container']['ip']
    web_ip = lab.ok('container_netns', name=web, bridge=br)['container']['ip']
    assert link_elements(lab) == set([(br, web_ip, db_ip, 'tcp', p) for p in range(7000, 7040)] +
                                     [(br, web_ip, db_ip, 'udp', 53)])
    assert ipset_names(lab) == []  # no ipset with nftables
    serve_many_ports_and_probe(lab, db, web, other, db_ip)
    settled_state = lab.snapshot()
    assert link(lab, alias='db')['changed'] is False and lab.snapshot() == settled_state
    lab.sh('nft flush set inet container_net links')  # behind the collection's back
    assert tcp_request(lab, web, db_ip, 7039) is None
    assert lab.ok('container_net_info')['drift']['firewall_tables'] == ['inet container_net']
    assert link(lab, alias='db')['changed'] is True
    assert link_elements(lab) == set([(br, web_ip, db_ip, 'tcp', p) for p in range(7000, 7040)] +
                                     [(br, web_ip, db_ip, 'udp', 53)])
    assert tcp_request(lab, web, db_ip, 7039) == 'last-port\n'
    assert link(lab, alias='db', state='absent')['changed']
    assert link_elements(lab) == set() and tcp_request(lab, web, db_ip, 7039) is None


def ipset_names(lab):
    return [n for n in lab.sh('ipset list -n', check=False).stdout.split() if n.startswith('CNET-')]
