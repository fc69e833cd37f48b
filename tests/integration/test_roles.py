"""The roles and playbooks through ansible-playbook, in a lab namespace: topology at scale, the web + db demo."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from labhost import (BACKEND, ROOT, break_rules, can_ping, dnat_ports, iptables_save, link_elements, sh,
                     tcp_request)

WHEELS = os.environ.get('CNET_WHEELS', os.path.join(ROOT, '.cache', 'wheels'))
CONTAINER_EXEC = os.path.join(ROOT, 'roles', 'host', 'files', 'container-exec')


def topology_play(lab, bridges, containers, prune=False):
    return lab.topology_role(bridges, containers, prune=prune)


def declaration(lab, webs=20):
    br = lab.name('br')
    containers = [{'name': lab.name('db'), 'bridge': br, 'hostname': 'db', 'exposed_ports': ['5432/tcp'],
                   'env': {'POSTGRES_PASSWORD': 'pw-declared'}},
                  {'name': lab.name('ca'), 'bridge': br, 'exposed_ports': ['6379/tcp']}]
    for i in range(webs):
        containers.append({'name': lab.name('w%02d' % i), 'bridge': br,
                           'links': ['%s:db' % lab.name('db'), {'source': lab.name('ca'), 'alias': 'cache'}],
                           'ports': ['%d:80' % (18000 + i)]})
    return [{'name': br, 'subnet': '10.88.0.0/24', 'icc': False}], containers


def test_topology_role_at_scale_with_prune_and_one_error_for_all_problems(lab):
    outside = lab.add_peer('out', '10.253.0.1/24', '10.253.0.2/24')
    bridges, containers = declaration(lab)
    first = topology_play(lab, bridges, containers)
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'changed=1' in first.stdout
    again = topology_play(lab, bridges, containers)
    assert again.returncode == 0 and 'changed=0' in again.stdout, again.stdout
    # real traffic: linked port open between web and db, published port from outside
    web, db = lab.name('w07'), lab.name('db')
    lab.echo(db, 'db-ok\n', tcp=[5432])
    lab.echo(web, 'w07\n', tcp=[80])
    assert tcp_request(lab, web, 'db', 5432) == 'db-ok\n'
    assert not can_ping(lab, web, 'db')  # icc off: only the linked port
    assert tcp_request(lab, outside, '10.253.0.1', 18007) == 'w07\n'
    # 40 links, one port each: beyond 32 port pairs in all the bridge matches them with one set
    if BACKEND == 'nftables':
        assert len(link_elements(lab)) == 20 * 2
    else:
        assert iptables_save(lab).count('"cnet:links:%s"' % bridges[0]['name']) == 2
        assert lab.sh('ipset save CNET-L-%s' % bridges[0]['name']).stdout.count('\nadd ') == 20 * 2

    # prune: half the webs go, and the cache with its links
    kept = containers[:1] + [dict(c, links=c['links'][:1]) for c in containers[2:12]]
    pruned = topology_play(lab, bridges, kept, prune=True)
    assert pruned.returncode == 0, pruned.stdout
    names = set(n for n in os.listdir('/run/netns') if n.startswith(lab.id))
    assert lab.name('ca') not in names and lab.name('w15') not in names and lab.name('w05') in names
    assert ('tcp', 18015) not in dnat_ports(lab) and ('tcp', 18005) in dnat_ports(lab)
    assert 'cache' not in lab.in_ns(lab.name('w05'), 'cat /etc/hosts').stdout
    # 10 links left: Docker's rule pairs again, and no set (nftables: 10 elements of its one set)
    if BACKEND == 'nftables':
        assert len(link_elements(lab)) == 10
    else:
        assert iptables_save(lab).count('cnet:link:') == 10 * 2
    assert 'CNET-L-' not in lab.sh('ipset list -n').stdout

    # a declaration with several problems: one error that lists them all, nothing changed
    before = lab.snapshot()
    bad = [dict(kept[0]), dict(kept[1], name=kept[1]['name']), dict(kept[1]),
           dict(kept[2], links=['%snosuch:x' % lab.id]), dict(kept[3], ports=['18003:80'])]  # w03 holds 18003
    failed = topology_play(lab, bridges + [{'name': lab.name('b2'), 'subnet': '10.88.0.128/25'}], bad)
    assert failed.returncode != 0
    for words in ('4 problems in the declaration', 'duplicate name', "is not a declared container",
                  'clashes with published port', 'overlaps subnet'):
        assert words in failed.stdout, failed.stdout
    assert lab.snapshot() == before


# Passwords the shell or SQL would choke on (quotes, $( ), backticks, spaces, a trailing backslash,
# a newline): the demo must pass them to PostgreSQL unchanged and run none of them.
PWNED = '/tmp/cnet-pwned'
DEMO_PASSWORD = 'p\'w"$(touch %s)`x y\\' % PWNED
NEW_PASSWORD = "n3w 'pa$$'\n\"`touch %s`\"; DROP ROLE app; --\\" % PWNED


def psql_through_link(web, password=None):
    """psql in the web container by the link's alias, port and credentials; the password is the link's unless given."""
    script = ('PGPASSWORD="${1-$DB_ENV_POSTGRES_PASSWORD}" psql -w -h db -p "$DB_PORT_5432_TCP_PORT" '
              '-U "$DB_ENV_POSTGRES_USER" -d "$DB_ENV_POSTGRES_DB" -tAc "SELECT count(*) FROM seeds"')
    return subprocess.run([sys.executable, CONTAINER_EXEC, web, '--', 'sh', '-c', script, 'sh']
                          + ([] if password is None else [password]),
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.skipif(not shutil.which('psql') or not os.path.isdir('/usr/lib/postgresql'),
                    reason='PostgreSQL from apt (scripts/bootstrap installs it)')
def test_demo_playbook_serves_rows_through_the_link_and_teardown_leaves_the_lab_as_it_was(lab):
    state_dir = '/var/tmp/cnet-%s-webdb' % lab.id
    extra = {'web_db_prefix': lab.id, 'web_db_bridge': lab.name('br0'), 'web_db_state_dir': state_dir,
             'web_db_registry_dir': lab.registry, 'container_net_host_install_packages': False,
             'web_db_install_packages': False,
             'container_net_host_pip_extra_args': '--no-index --find-links %s' % WHEELS,
             'web_db_db_password': DEMO_PASSWORD}
    if os.path.exists(PWNED):
        os.unlink(PWNED)
    before = lab.snapshot()
    try:
        demo = lab.playbook_file('playbooks/demo.yml', 'playbooks/inventory/demo.yml', extra)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert '2\\tpumpkin' in demo.stdout
        assert not os.path.exists(PWNED)
        stamp = os.path.join(state_dir, 'db.password.sha256')
        assert oct(os.stat(stamp).st_mode & 0o777) == '0o600'
        assert 'cnet-pwned' not in demo.stdout + demo.stderr  # no_log: the password is never printed
        # the published port, from the lab host itself
        page = lab.sh('curl -s --max-time 5 http://127.0.0.1:8080/').stdout
        assert page.splitlines()[1:] == ['1\tsunflower', '2\tpumpkin', '3\tflax'], page
        # a real client through the link: psql in the web container by alias, credentials from link env
        web = lab.id + 'web'
        out = psql_through_link(web)
        assert out.stdout.strip() == '3', out.stderr
        assert psql_through_link(web, DEMO_PASSWORD).stdout.strip() == '3'  # the link carries it unchanged
        assert psql_through_link(web, 'seed-demo-password').returncode != 0
        again = lab.playbook_file('playbooks/demo.yml', 'playbooks/inventory/demo.yml', extra)
        assert again.returncode == 0 and 'changed=0' in again.stdout, again.stdout
        # a new db address changes the link variables: the web app is restarted and follows it
        pid_before = open(os.path.join(state_dir, 'web.pid')).read()
        moved = lab.playbook_file('playbooks/demo.yml', 'playbooks/inventory/demo.yml',
                                  dict(extra, web_db_subnet='172.31.0.0/24'), check=False)
        assert moved.returncode != 0 and 'detach them before readdressing' in moved.stdout
        lab.ok('container_netns', name=lab.id + 'db', hostname='db',
               networks=[{'bridge': lab.name('br0'), 'ip': '172.30.0.50'}], exposed_ports=['5432/tcp'],
               env={'POSTGRES_USER': 'app', 'POSTGRES_PASSWORD': DEMO_PASSWORD, 'POSTGRES_DB': 'seeds'})
        followed = lab.playbook_file('playbooks/demo.yml', 'playbooks/inventory/demo.yml', extra)
        assert followed.returncode == 0, followed.stdout
        assert open(os.path.join(state_dir, 'web.pid')).read() != pid_before
        assert '(172.30.0.50:5432, via the link)' in lab.sh('curl -s --max-time 5 http://127.0.0.1:8080/').stdout
        # another password: the role gets it (the old one stops working), the link and the app follow
        extra['web_db_db_password'] = NEW_PASSWORD
        pid_before = open(os.path.join(state_dir, 'web.pid')).read()
        rotated = lab.playbook_file('playbooks/demo.yml', 'playbooks/inventory/demo.yml', extra)
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        assert not os.path.exists(PWNED)
        assert psql_through_link(web).stdout.strip() == '3'
        assert psql_through_link(web, NEW_PASSWORD).stdout.strip() == '3'
        old_pw = psql_through_link(web, DEMO_PASSWORD)
        assert old_pw.returncode != 0 and 'password authentication failed' in old_pw.stderr, old_pw
        assert open(os.path.join(state_dir, 'web.pid')).read() != pid_before
        page = lab.sh('curl -s --max-time 5 http://127.0.0.1:8080/').stdout
        assert page.splitlines()[1:] == ['1\tsunflower', '2\tpumpkin', '3\tflax'], page
        same = lab.playbook_file('playbooks/demo.yml', 'playbooks/inventory/demo.yml', extra)
        assert same.returncode == 0 and 'changed=0' in same.stdout, same.stdout
    finally:
        down = lab.playbook_file('playbooks/teardown.yml', 'playbooks/inventory/demo.yml', extra)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not os.path.exists(state_dir)
    assert subprocess.run(['pgrep', '-f', state_dir], capture_output=True, check=False).returncode == 1
    assert lab.snapshot() == before


def test_site_playbook_from_inventory_is_idempotent_and_teardown_is_complete(lab, tmp_path):
    inventory = tmp_path / 'inventory.yml'
    bridges, containers = declaration(lab, webs=3)
    inventory.write_text(json.dumps({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'container_net_registry_dir': lab.registry, 'container_net_bridges': bridges,
        'container_net_containers': containers, 'container_net_prune': True,
        'container_net_host_install_packages': False,
        'container_net_host_pip_extra_args': '--no-index --find-links %s' % WHEELS}}}}))
    before = lab.snapshot()
    first = lab.playbook_file('playbooks/site.yml', str(inventory), {})
    assert first.returncode == 0, first.stdout + first.stderr
    assert lab.in_ns(lab.name('w01'), 'getent hosts db').stdout.split()[:2] == ['10.88.0.2', 'db']
    second = lab.playbook_file('playbooks/site.yml', str(inventory), {})
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.stdout
    down = lab.playbook_file('playbooks/teardown.yml', str(inventory), {})
    assert down.returncode == 0, down.stdout
    assert lab.snapshot() == before


def test_info_reports_what_is_in_force_and_the_drift(lab):
    bridges, containers = declaration(lab, webs=2)
    assert not lab.module('container_net_topology', bridges=bridges, containers=containers).get('failed')
    info = lab.ok('container_net_info')
    assert info['changed'] is False and info['drift']['in_sync'] is True
    assert set(info['containers']) == set(c['name'] for c in containers)
    assert '%s/db' % lab.name('w00') in info['links']
    assert info['ports'][lab.name('w01')]['docker_port'] == ['80/tcp -> 0.0.0.0:18001']
    # a reboot loses the namespaces, a firewall reload loses the rules, someone edits a hosts file
    sh(['ip', 'netns', 'del', lab.name('w00')])
    break_rules(lab, 'iptables -F CNET-LINKS', 'links')
    with open('/etc/netns/%s/hosts' % lab.name('w01'), 'a') as f:
        f.write('10.9.9.9\tintruder\n')
    before = lab.snapshot()
    drift = lab.ok('container_net_info')['drift']
    assert drift['in_sync'] is False
    assert 'create netns %s' % lab.name('w00') in drift['kernel']
    if BACKEND == 'nftables':
        assert drift['firewall_tables'] == ['inet container_net'] and '@links accept' in drift['firewall']['expected']
    else:
        assert drift['firewall_tables'] == ['filter'] and '-A CNET-LINKS' in drift['firewall']['expected']
    assert 'write /etc/netns/%s/hosts' % lab.name('w01') in drift['files']
    assert lab.snapshot() == before  # info never changes anything
    repaired = lab.module('container_net_topology', bridges=bridges, containers=containers)
    assert repaired['changed'] is True
    assert lab.ok('container_net_info')['drift']['in_sync'] is True
