"""Stand-in for pip's get-pip.py, which ansible-test downloads from a host not reachable here.

ansible-test runs it as `get_pip.py --disable-pip-version-check PACKAGES... [--no-setuptools]
[--no-wheel]` inside a fresh virtualenv, with most of the environment stripped: bootstrap the pip
bundled with Python (ensurepip), then install the requested packages from the package index,
trusting the system CA bundle.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
packages = [a for a in sys.argv[1:] if not a.startswith('-')]
command = [sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q']
bundle = '/etc/ssl/certs/ca-certificates.crt'
if os.path.exists(bundle):
    command += ['--cert', bundle]
if packages:
    subprocess.check_call(command + packages)
