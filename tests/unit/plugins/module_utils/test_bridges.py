"""Bridge names: one strict rule, checked before anything reaches ip(8), sysctl paths or iptables."""

import pytest

from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils._ipam import ParamError
from ansible_collections.seed.container_net.plugins.module_utils._registry import empty_state


@pytest.mark.parametrize('name', [
    'br0', 'docker0', 'cnet-web_1', 'br.10', 'B', '0br', 'a' * 15, 'br..x', 'br-',
])
def test_interface_names_that_pass(name):
    assert bridges.check_ifname(name) == name


@pytest.mark.parametrize('name', [
    '', 'a' * 16,                                     # IFNAMSIZ: 15 bytes
    'br.x/y', 'br:1', 'br%1', 'br+', '+', 'br"x', "br'x", 'br!', 'br*', 'br,x', 'br=x', 'br@x', 'br\\x',
    'br x', 'br\tx', ' br', 'br\n', 'br\r', '\nbr', 'br\0', 'b\u00e9', 'b\u2028',
    '-br', '!br', '.br', '_br', '.', '..',
    None, 7,
])
def test_interface_names_refused_with_field_value_and_rule(name):
    with pytest.raises(ParamError) as e:
        bridges.check_ifname(name)
    msg = str(e.value)
    assert msg.startswith('name %r is not a valid interface name' % (name,)), msg
    assert "at most 15 bytes of ASCII letters, digits, '_', '.' and '-', starting with a letter or digit" in msg


def test_the_field_is_the_callers():
    with pytest.raises(ParamError, match=r"^bridge 'br\+' is not a valid interface name"):
        bridges.check_ifname('br+', 'bridge')


def test_record_refuses_a_bad_name_before_anything_else():
    state = empty_state()
    with pytest.raises(ParamError, match=r"^name 'br\+' "):
        bridges.record('br+', {'subnet': '10.1.0.0/24'}, state, None)
    assert state == empty_state()
    assert bridges.record('br.1', {'subnet': '10.1.0.0/24'}, state, None)['gateway'] == '10.1.0.1'
