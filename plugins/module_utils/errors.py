# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's one exception hierarchy.

Plain Python, no Ansible imports. Every failure the collection raises on purpose is an
``EdgeGpuError`` with a ``kind``: a short, stable word that playbooks can branch on. Modules
catch ``EdgeGpuError`` once (``module_utils.runner.run_module``) and return the kind as
``error_kind`` beside ``msg``.

Kinds:
  ``invalid_option``  a value was refused before anything was read or changed;
  ``plan``            the workloads do not fit the device's GPUs;
  ``manifest``        the options would give an invalid Kubernetes object or IoT Edge manifest;
  ``device_plugin_config``  the device plugin config would be refused or misread by the plugin;
  ``gpu_mode``        the requested GPU modes cannot be applied (busy, MIG, unsupported);
  ``mps``             the MPS control daemon refused, failed or did not answer;
  ``file``            a file could not be read or written;
  ``iothub``          IoT Hub refused a request, could not be reached or did not answer in time;
  NVML's own kinds (``driver_not_loaded``, ``gpu_lost``, ...; see ``nvml.py``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class EdgeGpuError(Exception):
    """A failure with a message for people and a ``kind`` for playbooks."""

    kind = 'error'

    def __init__(self, message, kind=None):
        super(EdgeGpuError, self).__init__(message)
        if kind is not None:
            self.kind = kind


class InvalidOption(EdgeGpuError, ValueError):
    """A value that cannot be used; the message names the option and the value."""

    kind = 'invalid_option'


class PlanError(InvalidOption):
    """The workloads cannot be placed; ``problems`` holds one line per offending workload."""

    kind = 'plan'

    def __init__(self, problems):
        self.problems = list(problems)
        super(PlanError, self).__init__('the sharing plan cannot be made: ' + '; '.join(self.problems))


class ManifestError(InvalidOption):
    """Options that would give an invalid Kubernetes object or IoT Edge manifest."""

    kind = 'manifest'


class ConfigError(InvalidOption):
    """A device plugin config the plugin would refuse or misread."""

    kind = 'device_plugin_config'


class ModeError(EdgeGpuError):
    """The requested GPU modes cannot be applied; nothing was changed."""

    kind = 'gpu_mode'


class MpsError(EdgeGpuError):
    """The MPS control daemon did not do what was asked; the message says what it said."""

    kind = 'mps'


class FileError(EdgeGpuError):
    """A file could not be read, written, moved or removed; the message names it."""

    kind = 'file'


class IotHubError(EdgeGpuError):
    """IoT Hub refused or did not answer a request; the message names the hub, the device or
    deployment, the HTTP status and the hub's own message (never a key, token or connection string)."""

    kind = 'iothub'
