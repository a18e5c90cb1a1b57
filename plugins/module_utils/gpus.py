# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the collection knows about a GPU as ``gpu_info`` describes it, in one place.

Plain Python, no Ansible imports: labels for messages, MIG, compute-capability rules, MPS
limits and paths, UUIDs, and GPU selection. GPU selection has one meaning everywhere: the
word ``all`` (the default of every ``gpus`` option) is every GPU of the device; otherwise a
list of indexes and/or UUIDs (one index or UUID alone is a list of one). An empty list is
refused rather than guessed to mean "all" or "none".
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.units import absolute_path

ALL = 'all'

GPU_UUID_RE = re.compile(r'^GPU-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
MIG_UUID_RE = re.compile(r'^MIG-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')

# ---- MPS facts that are not about talking to the daemon ----------------------------------

# NVIDIA's defaults; every module, filter and manifest takes them from here.
DEFAULT_PIPE_DIRECTORY = '/tmp/nvidia-mps'
DEFAULT_LOG_DIRECTORY = '/var/log/nvidia-mps'

# MPS serves at most 48 clients per GPU from Volta on, 16 before.
MPS_MAX_CLIENTS = 48
MPS_MAX_CLIENTS_PRE_VOLTA = 16
VOLTA_MPS = (7, 5)

# The daemon binds "<pipe directory>/control_privileged" as a UNIX socket; longer paths
# than sun_path holds make it exit 1 without a word, so they are refused up front.
_SOCKET_PATH_MAX = 107
_LONGEST_SOCKET = 'control_privileged'


def label(gpu):
    """How every message names a GPU: ``GPU 1 (GPU-...)``."""
    return 'GPU %d (%s)' % (gpu['index'], gpu['uuid'])


def labels(gpus):
    return ', '.join(label(gpu) for gpu in gpus)


def mig_enabled(gpu):
    """Whether MIG is on now (a pending change does not count until the GPU is reset)."""
    return (gpu.get('mig_mode') or {}).get('current') == 'enabled'


def compute_capability(gpu):
    """``(major, minor)`` from ``gpu_info``'s ``"7.5"``, or ``None`` when unknown."""
    text = gpu.get('compute_capability')
    if not text:
        return None
    major, minor = text.split('.')
    return int(major), int(minor)


def mps_client_limit(gpus):
    """The most MPS clients every GPU of ``gpus`` can serve."""
    capabilities = [c for c in (compute_capability(gpu) for gpu in gpus or []) if c is not None]
    if capabilities and min(capabilities) < VOLTA_MPS:
        return MPS_MAX_CLIENTS_PRE_VOLTA
    return MPS_MAX_CLIENTS


# MPS limits on pinned device memory (the daemon's set_default_device_pinned_mem_limit and the
# clients' CUDA_MPS_PINNED_DEVICE_MEM_LIMIT) came with CUDA 11.5, whose Linux driver is 495.29.05;
# older drivers answer "Unknown command" or ignore the variable, and clients go unlimited.
PINNED_MEM_MIN_DRIVER = '495.29.05'


def driver_version(text):
    """``(535, 261, 3)`` for NVML's ``"535.261.03"``; ``None`` when unknown or not in that form."""
    parts = text.strip().split('.') if isinstance(text, str) else []
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def check_pinned_mem_driver(driver, option, value=None):
    """Refuse a pinned device memory limit where the driver has none (an unknown driver passes:
    the daemon's own answer is checked when the limit is set)."""
    have = driver_version(driver)
    if have is not None and have < driver_version(PINNED_MEM_MIN_DRIVER):
        raise InvalidOption('%s%s needs driver >= %s (MPS pinned device memory limits came with CUDA 11.5), '
                            'GPU host has %s' % (option, '' if value is None else ' %s' % value,
                                                 PINNED_MEM_MIN_DRIVER, driver))


# The MPS directories reach systemd units, shell commands, hostPath volumes and Docker binds
# ("src:dst"), unquoted: only characters that mean nothing to any of them.
_MPS_DIRECTORY_RE = re.compile(r'^[A-Za-z0-9._/@+-]+$')


def check_mps_directory(path, option):
    """An MPS pipe or log directory: absolute, normalised, and no character that needs quoting."""
    absolute_path(path, option)
    if not _MPS_DIRECTORY_RE.match(path):
        raise InvalidOption('%s %r may hold only letters, digits and . _ / @ + - (it is written unquoted into '
                            'systemd units, environment files, hostPath volumes and container binds)' % (option, path))
    return path


def check_pipe_directory(path, option='pipe_directory'):
    """An MPS pipe directory must be absolute and normalised, and its sockets must fit sun_path."""
    check_mps_directory(path, option)
    if len(os.path.join(path, _LONGEST_SOCKET)) > _SOCKET_PATH_MAX:
        raise InvalidOption('%s %r is too long: the control socket path must fit in %d bytes'
                            % (option, path, _SOCKET_PATH_MAX))
    return path


# ---- GPU selection -----------------------------------------------------------------------

def parse_selector(value, option='gpus'):
    """One GPU index (int or digits) or GPU UUID; ``InvalidOption`` naming the value otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, str) and GPU_UUID_RE.match(value.strip()):
        return value.strip()
    raise InvalidOption('%s: GPU selector %r is neither an index (0, 1, ...) nor a GPU UUID '
                        '(GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)' % (option, value))


def parse_selectors(values, option):
    """A list of selectors where an empty list means none (for example ``reserved_gpus``)."""
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        values = [values]
    return [parse_selector(value, option) for value in values]


def parse_selection(value, option='gpus'):
    """``all`` -> ``None`` (every GPU); a selector or a list of them -> the parsed list."""
    if value == ALL or value == [ALL]:
        return None
    if value is None or value == [] or value == '':
        raise InvalidOption('%s is empty: give %s for every GPU, or a list of GPU indexes or UUIDs' % (option, ALL))
    return parse_selectors(value, option)


def find(gpus, selector):
    """The ``gpu_info`` GPU a parsed selector names, or ``None``."""
    for gpu in gpus:
        if (isinstance(selector, int) and gpu['index'] == selector) or (
                not isinstance(selector, int) and gpu['uuid'].lower() == selector.lower()):
            return gpu
    return None


def resolve(selection, uuids, option='gpus'):
    """The indexes a parsed selection names, given ``uuids`` (the UUID of each index).

    Device order, duplicates dropped; ``InvalidOption`` names every selector that matches no GPU.
    """
    if selection is None:
        return list(range(len(uuids)))
    known = [{'index': index, 'uuid': uuid} for index, uuid in enumerate(uuids)]
    wanted, unknown = set(), []
    for selector in selection:
        gpu = find(known, selector)
        if gpu is None:
            unknown.append(str(selector))
        else:
            wanted.add(gpu['index'])
    if unknown:
        present = 'no GPUs' if not uuids else 'GPUs %s' % ', '.join(
            '%d (%s)' % (index, uuid) for index, uuid in enumerate(uuids))
        raise InvalidOption('%s: no GPU matches %s; this host has %s' % (option, ', '.join(unknown), present))
    return sorted(wanted)
