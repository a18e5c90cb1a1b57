# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers the integration tests import (conftest.py holds the fixtures)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import subprocess

import pytest

NVIDIA_ROOT = os.environ.get('EDGE_GPU_NVIDIA_ROOT')
MPS_CONTROL = os.path.join(NVIDIA_ROOT or '', 'bin', 'nvidia-cuda-mps-control')
NVML_LIBRARY = os.path.join(NVIDIA_ROOT or '', 'lib', 'libnvidia-ml.so.1')


def require_nvidia_userland(module_level=False):
    """Skip (or, where CI demands it, fail) when NVIDIA's real userland is not unpacked."""
    if os.path.exists(MPS_CONTROL) and os.path.exists(NVML_LIBRARY):
        return
    if os.environ.get('EDGE_GPU_REQUIRE_NVIDIA_USERLAND'):
        raise RuntimeError('EDGE_GPU_NVIDIA_ROOT must hold NVIDIA userland (make nvidia-userland)')
    pytest.skip('NVIDIA userland not unpacked (make nvidia-userland)', allow_module_level=module_level)


def mps_daemons_under(root):
    """Pids of nvidia-cuda-mps-control daemons whose pipe directory lies under ``root``."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                cmdline = handle.read()
            with open('/proc/%s/environ' % entry, 'rb') as handle:
                environ = handle.read().split(b'\0')
        except (IOError, OSError):
            continue
        if b'nvidia-cuda-mps-control' not in cmdline:
            continue
        for item in environ:
            pipe = item.split(b'=', 1)[1].decode() if item.startswith(b'CUDA_MPS_PIPE_DIRECTORY=') else None
            if pipe is not None and (pipe == root or pipe.startswith(root.rstrip(os.sep) + os.sep)):
                pids.append(int(entry))
    return pids


def kill_daemons_under(root):
    """Kill every MPS control daemon a test left under ``root`` (the real one, and the stand-ins)."""
    for pid in mps_daemons_under(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # it exited on its own meanwhile


def recap(output):
    """``{host: {ok: n, changed: n, failed: n, ...}}`` from an ansible-playbook run's PLAY RECAP."""
    counts, seen = {}, False
    for line in output.splitlines():
        if line.startswith('PLAY RECAP'):
            seen, counts = True, {}
            continue
        if seen and ':' in line and '=' in line:
            host, numbers = line.split(':', 1)
            counts[host.strip()] = dict((k, int(v)) for k, v in (item.split('=') for item in numbers.split()))
    return counts


def mps_query(pipe_directory, command):
    """Ask the real control daemon directly, as an operator would (independent of the module)."""
    proc = subprocess.run([MPS_CONTROL], input=command + '\n', env=dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=pipe_directory),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=10, check=False)
    return proc.returncode, proc.stdout.strip()


# Kubernetes version the generated objects are validated against.
KUBERNETES_VERSION = '1.33'


def validate_kubernetes(obj):
    """Validate one object with kubernetes-validate in strict mode; raises on any error."""
    import kubernetes_validate  # pylint: disable=import-outside-toplevel
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
