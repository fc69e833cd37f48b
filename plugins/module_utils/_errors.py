# -*- coding: utf-8 -*-
# Copyright (c) 2026, seed.container_net contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors every module reports as a clean failure (never a traceback)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ParamError(Exception):
    """Bad input, reported before anything on the host changes; names the field."""


class HostError(ParamError):
    """The host cannot carry out what was asked (found while planning, so before any change)."""


class KernelError(Exception):
    """A kernel request failed while applying: names the step (the object) and the kernel's reason."""


class RegistryError(HostError):
    """The registry cannot be read as a registry: nothing may act on it."""
