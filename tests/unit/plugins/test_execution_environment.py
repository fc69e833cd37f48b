"""The execution environment files ansible-builder reads name what the host role installs on targets."""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def test_the_execution_environment_names_files_that_exist():
    ee = yaml.safe_load(read('meta', 'execution-environment.yml'))
    assert ee['version'] == 1
    for key in ('python', 'system'):
        assert os.path.isfile(os.path.join(ROOT, ee['dependencies'][key])), key


def test_its_requirements_are_the_host_roles_python_and_packages():
    role = yaml.safe_load(read('roles', 'host', 'defaults', 'main.yml'))
    names = [re.split(r'[<>=]', line)[0] for line in read('requirements.txt').splitlines()
             if line and not line.startswith('#')]
    assert names == [re.split(r'[<>=]', p)[0] for p in role['container_net_host_pip_packages']]
    dpkg = [line.split()[0] for line in read('bindep.txt').splitlines()
            if line and not line.startswith('#') and 'platform:dpkg' in line]
    assert sorted(dpkg) == sorted(p for p in role['container_net_host_packages'] if not p.startswith('python3'))
