"""Which backend a run uses: the one asked for, else the registry's, else the host's best."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _firewall_plan as fp
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError

from test_rules import state


class FakeHost:
    def __init__(self, nft=(1, 0), iptables='nf_tables'):
        self._nft, self._iptables = nft, iptables

    def nft_version(self):
        return self._nft

    def iptables_variant(self):
        return self._iptables


@pytest.mark.parametrize('host, expected', [
    (FakeHost(), 'nftables'),
    (FakeHost(nft=(0, 9)), 'iptables'),
    (FakeHost(nft=None), 'iptables'),
    (FakeHost(iptables='legacy'), 'iptables'),
    (FakeHost(iptables=None), 'nftables'),
])
def test_auto_on_a_new_host_prefers_nftables_where_it_can_hold(host, expected):
    assert fp.choose('auto', None, host) == expected


@pytest.mark.parametrize('recorded', ['iptables', 'nftables'])
def test_auto_keeps_what_the_registry_recorded(recorded):
    assert fp.choose('auto', recorded, FakeHost(iptables='legacy' if recorded == 'nftables' else 'nf_tables')) == recorded


def test_a_named_backend_wins_over_the_record_and_must_be_there():
    assert fp.choose('iptables', 'nftables', FakeHost()) == 'iptables'
    assert fp.choose('nftables', 'iptables', FakeHost()) == 'nftables'
    with pytest.raises(ParamError, match=r'^firewall_backend: nftables needs nft >= 1\.0 on the host \(found 0\.9\)'):
        fp.choose('nftables', None, FakeHost(nft=(0, 9)))
    with pytest.raises(ParamError, match=r'^firewall_backend: nftables needs nft >= 1\.0 on the host \(nft not found\)'):
        fp.choose('nftables', None, FakeHost(nft=None))
    with pytest.raises(ParamError, match=r'^firewall_backend: iptables is not installed'):
        fp.choose('iptables', None, FakeHost(iptables=None))
    with pytest.raises(ParamError, match=r"^firewall_backend: 'pf' is not one of auto, iptables, nftables"):
        fp.choose('pf', None, FakeHost())


class ScriptedHost(fp.Host):
    """A host whose commands answer from a script; every call is recorded in order."""

    def __init__(self, answers):
        self.calls = []
        self.answers = answers
        fp.Host.__init__(self, self._run, lambda name, required=False: '/usr/sbin/' + name)

    def _run(self, args, data=None, binary_data=False):
        self.calls.append(' '.join(args))
        for prefix, answer in self.answers:
            if ' '.join(args).startswith(prefix):
                return answer
        return 0, '', ''


IPTABLES_WITH_RULES = '''*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:CNET-FORWARD - [0:0]
-A FORWARD -m comment --comment "cnet:jump" -j CNET-FORWARD
-A CNET-FORWARD -m comment --comment "cnet:stage:icc" -j CNET-ICC
COMMIT
'''
NO_TABLE = (1, '', 'Error: No such file or directory; did you mean table "filter" in family ip?')


def registry(backend):
    s = state()
    s['firewall']['backend'] = backend
    return s


def test_a_switch_writes_the_new_backend_first_and_then_removes_the_old_one():
    host = ScriptedHost([('/usr/sbin/nft --version', (0, 'nftables v1.0.6 (Lester Gooch #5)\n', '')),
                         ('iptables -V', (0, 'iptables v1.8.9 (nf_tables)\n', '')),
                         ('/usr/sbin/nft -j list table', NO_TABLE),
                         ('iptables-save', (0, IPTABLES_WITH_RULES, ''))])
    old, new = registry('iptables'), registry('iptables')
    plan = fp.plan('nftables', old, new, ('iptables', None), host)
    assert [type(p).__name__ for p in plan.parts] == ['NftPlan', 'IptablesPlan'] and plan.changed
    assert new['firewall']['backend'] == 'nftables'
    del host.calls[:]
    plan.apply()
    writes = [c for c in host.calls if c.startswith(('/usr/sbin/nft -f', 'iptables-restore'))]
    assert writes == ['/usr/sbin/nft -f -', 'iptables-restore --noflush --wait']
    assert 'rendered' in new['firewall']['nft']


def test_a_switch_back_removes_the_table_after_iptables_holds_the_rules():
    host = ScriptedHost([('/usr/sbin/nft -j list table', (0, '{"nftables": []}', '')),
                         ('iptables -V', (0, 'iptables v1.8.9 (nf_tables)\n', '')),
                         ('iptables-save', (0, '*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n', ''))])
    new = registry('nftables')
    plan = fp.plan('iptables', registry('nftables'), new, ('nftables', None), host)
    assert [type(p).__name__ for p in plan.parts] == ['IptablesPlan', 'NftPlan']
    del host.calls[:]
    plan.apply()
    writes = [c for c in host.calls if c.startswith(('/usr/sbin/nft -f', 'iptables-restore'))]
    assert writes[0].startswith('iptables-restore') and writes[-1] == '/usr/sbin/nft -f -'
    assert new['firewall']['backend'] == 'iptables' and 'nft' not in new['firewall']
