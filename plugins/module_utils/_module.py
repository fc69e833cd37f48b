# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape every module shares: desired -> actual -> plan -> apply unless check mode -> report.

A module only says how its parameters change the registry (`update`) and which netlink steps
its own objects need (`kernel_plan`). Firewall rules and container files are rendered from the
whole registry and compared with what is on the host, so a change to one object brings every
dependent rule, hosts line and env file up to date in the same run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import traceback

from ansible_collections.seed.container_net.plugins.module_utils import _bridges as bridges
from ansible_collections.seed.container_net.plugins.module_utils import _container_files as files
from ansible_collections.seed.container_net.plugins.module_utils import _dns as dns
from ansible_collections.seed.container_net.plugins.module_utils import _dns_supervisor as dns_supervisor
from ansible_collections.seed.container_net.plugins.module_utils import _firewall as firewall
from ansible_collections.seed.container_net.plugins.module_utils import _firewall_plan as firewall_plan
from ansible_collections.seed.container_net.plugins.module_utils import _nft as nft
from ansible_collections.seed.container_net.plugins.module_utils import _ports as ports
from ansible_collections.seed.container_net.plugins.module_utils._errors import KernelError, ParamError
from ansible_collections.seed.container_net.plugins.module_utils._ipam import HAS_NETADDR, NETADDR_IMPORT_ERROR
from ansible_collections.seed.container_net.plugins.module_utils._netlink import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR, Netlink, NetlinkError, host_addresses, listening_ports, read_sysctl)
from ansible_collections.seed.container_net.plugins.module_utils._registry import (
    DEFAULT_REGISTRY_DIR, Registry, with_journal)

COMMON_ARGS = dict(
    registry_dir=dict(type='path', default=DEFAULT_REGISTRY_DIR),
    netns_etc_dir=dict(type='path', default=files.DEFAULT_ETC_DIR),
    firewall_backend=dict(type='str', default='auto', choices=list(firewall_plan.CHOICES)),
)


def common_args(**specific):
    spec = copy.deepcopy(COMMON_ARGS)
    spec.update(specific)
    return spec


class Step:
    """One kernel change, described for the diff and applied unless in check mode."""

    def __init__(self, description, action):
        self.description = description
        self.action = action

    def __repr__(self):
        return self.description

    def apply(self):
        """Carry out the step; a refusal by the kernel names the step, so the object and the field."""
        try:
            self.action()
        except (NetlinkError, OSError, IOError) as e:  # NetlinkError is OSError where pyroute2 is missing
            if getattr(e, 'code', None) is not None and not isinstance(e, EnvironmentError):
                reason = e.args[1] if len(e.args) > 1 else str(e)
                raise KernelError('%s: the kernel refused: %s (netlink error %s)' % (self.description, reason, e.code))
            raise KernelError('%s: %s' % (self.description, getattr(e, 'strerror', None) or e))


class Manager:
    """Subclasses set `kind` and implement update(), kernel_plan() and facts()."""

    kind = None
    read_only = False  # report what a run would do (drift), never write

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.netlink = None
        self.firewall = None

    # ---- to implement --------------------------------------------------------------------
    def update(self, state):
        """Change the registry document `state` (a private copy) to what the params ask for."""
        raise NotImplementedError

    def kernel_plan(self, old, new):
        """Steps that bring this module's kernel objects from what is there to `new`."""
        return []

    def facts(self, state):
        return {}

    def view(self, state):
        """The module's object(s) as shown in diff mode (secrets left out)."""
        return {}

    def host_reads(self):
        """The host facts that port assignment needs, read at most once per run."""
        def port_range():
            low, high = (read_sysctl('net.ipv4.ip_local_port_range') or '32768 60999').split()
            return int(low), int(high), ports.parse_port_list(read_sysctl('net.ipv4.ip_local_reserved_ports'))
        return ports.HostReads(lambda: host_addresses(self.netlink), listening_ports, port_range)

    # ---- the shared run ------------------------------------------------------------------
    def run(self):
        for ok, err, lib in ((HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR, 'pyroute2>=0.9'),
                             (HAS_NETADDR, NETADDR_IMPORT_ERROR, 'netaddr')):
            if not ok:
                # imported only here: the host's container-net command runs these classes without Ansible
                from ansible.module_utils.basic import missing_required_lib
                self.module.fail_json(msg=missing_required_lib(lib), exception=str(err))
        try:
            result = self._run()
        except ParamError as e:
            self.module.fail_json(msg=str(e))
        except KernelError as e:
            self.module.fail_json(msg='%s; the steps before it were applied and the registry records the run as '
                                  'unfinished: correct the cause and run again (the next run, or container-net '
                                  'restore, completes it or removes what is no longer wanted)' % e)
        except (firewall.FirewallError, nft.NftError, OSError, IOError) as e:
            self.module.fail_json(msg='%s: %s' % (type(e).__name__, e), exception=traceback.format_exc())
        self.module.exit_json(**result)

    def _check_paths(self):
        """Both directories are the host's, not the module's working directory (a relative registry
        there would be a fresh, empty one whose rules replace the real registry's)."""
        for field in ('netns_etc_dir', 'registry_dir'):
            path = self.params.get(field)
            if path is None:
                continue
            if not os.path.isabs(path):
                raise ParamError("%s '%s' is not an absolute path" % (field, path))
            if os.path.exists(path) and not os.path.isdir(path):
                raise ParamError("%s '%s' exists and is not a directory" % (field, path))

    def _run(self):
        self._check_paths()
        registry = Registry(self.params['registry_dir'], create=not (self.check_mode or self.read_only))
        with registry, Netlink() as netlink:
            self.netlink = netlink
            recorded = registry.loaded
            # `old` is what may be on the host: after an unfinished run also what it was removing
            old = with_journal(registry.journal, recorded)
            new = copy.deepcopy(recorded)
            new['firewall'] = copy.deepcopy(old['firewall'])  # tables either side may have created
            self.update(new)  # validates everything before anything is touched

            steps = self.kernel_plan(old, new) + bridges.sysctl_steps(old, new, self.module.run_command, Step)
            steps += dns_supervisor.steps(new, registry.path, Step, self.module.run_command)
            journal_backend = (registry.journal or {}).get('firewall', {}).get('backend')
            fw = self.firewall = firewall_plan.plan(
                self.params.get('firewall_backend'), old, new, (recorded['firewall'].get('backend'), journal_backend),
                firewall_plan.Host(self.module.run_command, self.module.get_bin_path))
            file_plan = files.plan(old, new, self.params['netns_etc_dir'], registry.path)

            changed = bool(steps or fw.changed or file_plan.changes or new != old or registry.journal is not None)
            if self.read_only:
                return dict(changed=False, drift={
                    'kernel': [str(s) for s in steps],
                    'firewall_backend': new['firewall']['backend'],
                    'firewall_tables': fw.drift(),
                    'firewall': dict(zip(('actual', 'expected'), fw.diff())) if fw.changed else {},
                    'files': file_plan.changes,
                    'unfinished_run': registry.journal is not None,
                    'in_sync': not changed,
                }, **self.facts(new))
            if self.check_mode and fw.changed:
                fw.check()
            if changed and not self.check_mode:
                registry.begin(new, old)
                for step in steps:
                    step.apply()
                file_plan.apply()
                fw.apply()
                registry.write(new)

            result = dict(changed=changed, **self.facts(new))
            if self.module._diff:
                before_rules, after_rules = fw.diff()
                result['diff'] = [
                    {'before_header': '%s (registry)' % self.kind, 'after_header': '%s (registry)' % self.kind,
                     'before': self.view(old), 'after': self.view(new)},
                    {'before_header': fw.header, 'after_header': fw.header,
                     'before': before_rules, 'after': after_rules},
                    {'before_header': 'kernel', 'after_header': 'kernel (planned steps)',
                     'before': '', 'after': ''.join('%s\n' % s for s in steps)},
                    {'before_header': 'files', 'after_header': 'files (planned)',
                     'before': '', 'after': ''.join('%s\n' % c for c in file_plan.changes)},
                    {'before_header': 'names (DNS networks)', 'after_header': 'names (DNS networks)',
                     'before': dns.render_names(old), 'after': dns.render_names(new)},
                ]
            return result
