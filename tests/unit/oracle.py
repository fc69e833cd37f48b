"""Read expected values out of the verbatim Docker 20.10 oracle (tests/unit/fixtures)."""

import os

ORACLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'docker-20.10-links-oracle.txt')
# The same engine with --ipv6 --fixed-cidr-v6=fd00:dead:beef::/64 --ip6tables (scripts/oracle/docker-links-ipv6.sh).
ORACLE6 = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'docker-20.10-links-ipv6-oracle.txt')
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def text(path=ORACLE):
    with open(path) as f:
        return f.read()


def block_after(marker, stop=('', '---'), path=ORACLE):
    """The lines that follow the first line starting with `marker`, up to a stop line."""
    lines = text(path).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(marker)) + 1
    if lines[start].startswith('$ '):  # a section title is followed by the command that produced it
        start += 1
    out = []
    for line in lines[start:]:
        if line in stop:
            break
        out.append(line)
    return out


def env_with_prefix(lines, prefix):
    """KEY=VALUE lines of one link alias, as a dict."""
    return dict(line.split('=', 1) for line in lines if line.startswith(prefix + '_'))
