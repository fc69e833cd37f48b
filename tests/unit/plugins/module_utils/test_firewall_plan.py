"""Which backend a run uses: the one asked for, else the registry's, else the host's best."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _firewall_plan as fp
from ansible_collections.seed.container_net.plugins.module_utils._errors import ParamError


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
