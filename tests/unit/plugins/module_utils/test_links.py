"""Docker link env, hosts lines and rules, value for value against the Docker 20.10 oracle."""

import pytest

import oracle
from ansible_collections.seed.container_net.plugins.module_utils import _links as links
from ansible_collections.seed.container_net.plugins.module_utils import _rules as rules
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError

# labdb in the oracle: --expose 5432/tcp --expose 53/udp, image EXPOSE 8080/tcp, env as inspected.
LABDB_EXPOSED = [{'port': 5432, 'proto': 'tcp'}, {'port': 53, 'proto': 'udp'}, {'port': 8080, 'proto': 'tcp'}]
LABDB_ENV = {'POSTGRES_PASSWORD': 'secret', 'MULTI_WORD': 'a b  c', 'EMPTY': '',
             'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'IMG_VAR': 'from-image'}
LABDB_IP = '172.17.0.2'


def env_of(receiver, alias, ip=LABDB_IP, exposed=None, env=None):
    return dict(links.render_link_env(receiver, alias, ip, LABDB_EXPOSED if exposed is None else exposed,
                                      LABDB_ENV if env is None else env))


@pytest.mark.parametrize('marker, receiver, alias, prefix', [
    ('$ /usr/bin/docker exec labweb sh -c tr', 'labweb', 'my-db', 'MY_DB'),
    ('$ /usr/bin/docker run --rm --name labweb2', 'labweb2', 'labdb', 'LABDB'),
    ('$ /usr/bin/docker run --rm --name labweb2', 'labweb2', 'Db.Alias_2', 'DB.ALIAS_2'),
    ('$ /usr/bin/docker run --rm --link labdb:first-a', 'awesome_cray', 'first-a', 'FIRST_A'),
    ('$ /usr/bin/docker run --rm --link labdb:first-a', 'awesome_cray', 'second-b', 'SECOND_B'),
])
def test_link_env_matches_oracle(marker, receiver, alias, prefix):
    expected = oracle.env_with_prefix(oracle.block_after(marker), prefix)
    assert expected, 'oracle block not found'
    assert env_of(receiver, alias) == expected


def test_link_env_of_publishing_source_matches_oracle():
    expected = oracle.env_with_prefix(oracle.block_after('$ /usr/bin/docker run --rm --link labpub:pub'), 'PUB')
    got = env_of('focused_payne', 'pub', ip='172.17.0.4',
                 exposed=[{'port': 5432, 'proto': 'tcp'}, {'port': 53, 'proto': 'udp'}], env={'K': 'v'})
    assert got == expected


def test_first_port_is_lowest_number_and_tcp_first_on_a_tie():
    env = env_of('r', 'db', exposed=[{'port': 53, 'proto': 'udp'}, {'port': 53, 'proto': 'tcp'}], env={})
    assert env['DB_PORT'] == 'tcp://172.17.0.2:53'


def test_ranges_get_start_and_end_variables():
    env = env_of('r', 'svc', exposed=[{'port': 7000, 'end': 7002, 'proto': 'tcp'}, {'port': 9000, 'proto': 'tcp'}],
                 env={})
    assert env['SVC_PORT_7000_TCP_START'] == 'tcp://172.17.0.2:7000'
    assert env['SVC_PORT_7000_TCP_PORT_START'] == '7000'
    assert env['SVC_PORT_7000_TCP_END'] == 'tcp://172.17.0.2:7002'
    assert env['SVC_PORT_7000_TCP_PORT_END'] == '7002'
    assert env['SVC_PORT_7001_TCP_ADDR'] == '172.17.0.2'
    assert 'SVC_PORT_9000_TCP_START' not in env


def test_home_and_path_of_source_are_not_published():
    env = env_of('r', 'db', env={'HOME': '/root', 'PATH': '/bin', 'X': '1'})
    assert 'DB_ENV_HOME' not in env and 'DB_ENV_PATH' not in env and env['DB_ENV_X'] == '1'


@pytest.mark.parametrize('marker, alias, source_name, hostname', [
    ('--- /etc/hosts inside labweb', 'my-db', 'labdb', 'dbhost'),
    ('$ /usr/bin/docker run --rm --name labweb2', 'labdb', 'labdb', 'dbhost'),
    ('$ /usr/bin/docker run --rm --name labweb2', 'Db.Alias_2', 'labdb', 'dbhost'),
    ('$ /usr/bin/docker run --rm --link labpub:pub', 'pub', 'labpub', 'ae440d74eff9'),
])
def test_hosts_line_matches_oracle(marker, alias, source_name, hostname):
    lines = oracle.block_after(marker, stop=('',))
    ip = '172.17.0.4' if source_name == 'labpub' else LABDB_IP
    assert links.hosts_line(alias, ip, hostname, source_name) in lines


def test_icc_rules_match_oracle_lines():
    saved = oracle.block_after('$ ip netns exec labdocker iptables-save', stop=('COMMIT',))
    expected = sorted(line[len('-A DOCKER '):] for line in saved
                      if line.startswith('-A DOCKER -s 172.17.0.'))
    got = sorted(rules.link_rules('labweb/db', 'docker0', '172.17.0.3', LABDB_IP, links.expand_ports(LABDB_EXPOSED)))
    assert got == expected and len(got) == 6


@pytest.mark.parametrize('alias', ['-db', 'db name', '', '.db', 'db/x'])
def test_aliases_docker_refuses(alias):
    with pytest.raises(ParamError, match="alias '%s'" % alias.replace('.', r'\.')):
        links.check_name(alias, 'alias')


@pytest.mark.parametrize('value, ok', [
    ('db', True), ('Db.Alias_2', True), ('my-db', True), ('0', True),
    ('db\n', False), ('db\r', False), ('d\nb', False), ('\ndb', False), ('db\0', False), ('db\t', False),
    ('db ', False), ('.', False), ('..', False), ('-db', False), ('db:x', False), ('db/x', False),
    ('db+', False), ('db%1', False), ('dé', False), (None, False), (5, False),
])
def test_check_name_takes_dockers_rule_to_the_end_of_the_string(value, ok):
    if ok:
        assert links.check_name(value, 'name') == value
    else:
        with pytest.raises(ParamError) as e:
            links.check_name(value, 'name')
        assert str(e.value).startswith('name %r is not a valid name' % (value,))


def test_shared_network_prefers_receivers_first_network():
    receiver = {'networks': [{'bridge': 'b2', 'ip': '10.2.0.5'}, {'bridge': 'b1', 'ip': '10.1.0.5'}]}
    source = {'networks': [{'bridge': 'b1', 'ip': '10.1.0.9'}, {'bridge': 'b2', 'ip': '10.2.0.9'}]}
    assert links.shared_network(receiver, source) == ('b2', '10.2.0.5', '10.2.0.9')
    assert links.shared_network(receiver, {'networks': [{'bridge': 'b3', 'ip': '10.3.0.2'}]}) is None
