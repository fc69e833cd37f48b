"""Every role's defaults and its meta/argument_specs.yml say the same: each default has an option,
each option a default, with the same value (templated defaults excepted)."""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.listdir(os.path.join(ROOT, 'roles')))


def load(role, *path):
    with open(os.path.join(ROOT, 'roles', role, *path)) as f:
        return yaml.safe_load(f) or {}


@pytest.mark.parametrize('role', ROLES)
def test_defaults_and_argument_specs_agree(role):
    defaults = load(role, 'defaults', 'main.yml')
    options = load(role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    assert sorted(defaults) == sorted(options)
    for name, value in defaults.items():
        if not (isinstance(value, str) and '{{' in value):
            assert options[name].get('default') == value, name
