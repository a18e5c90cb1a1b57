# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Human-readable summaries of ``gpu_info`` results, one device or a whole fleet.

Plain Python, no Ansible imports; the filters in ``plugins/filter`` wrap it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.gpus import mig_enabled

MIB = 1024 * 1024

# nvidia-smi's spelling of the compute modes.
_SMI_COMPUTE_MODES = {'default': 'Default', 'exclusive_process': 'E. Process', 'prohibited': 'Prohibited'}


def _na(value, fmt):
    return 'N/A' if value is None else fmt % value


def memory_cell(memory):
    """``used / total`` as nvidia-smi shows them, with the driver's reserve where it is known."""
    if memory is None:
        return 'N/A'
    text = '%dMiB / %dMiB' % (memory['used'] // MIB, memory['total'] // MIB)
    if memory.get('reserved') is not None:
        text += ' (%dMiB reserved)' % (memory['reserved'] // MIB)
    return text


def utilization_text(utilization, sampled):
    """The instant GPU utilization and, over a sampled window, its minimum, mean and maximum."""
    text = 'util ' + ('N/A' if utilization is None else '%d%%' % utilization['gpu'])
    if sampled:
        text += ' (min %d%% mean %.1f%% max %d%% over %d samples)' % (
            sampled['gpu']['min'], sampled['gpu']['mean'], sampled['gpu']['max'], sampled['samples'])
    return text


def gpu_line(gpu):
    """One line per GPU, with the columns nvidia-smi shows."""
    processes = gpu.get('processes')
    parts = [
        'GPU %d' % gpu['index'],
        gpu['name'] or 'N/A',
        # An integrated GPU (Jetson/Tegra) has no PCI bus id.
        gpu['pci_bus_id'] or 'N/A',
        memory_cell(gpu.get('memory')),
        utilization_text(gpu.get('utilization'), gpu.get('utilization_sampled')),
        _na(gpu.get('temperature'), '%dC'),
        _na(gpu.get('power_draw'), '%.1fW'),
        _na(gpu.get('compute_mode'), '%s') if gpu.get('compute_mode') not in _SMI_COMPUTE_MODES
        else _SMI_COMPUTE_MODES[gpu['compute_mode']],
    ]
    if mig_enabled(gpu):
        parts.append('MIG')
    if processes is not None:
        mps_clients = sum(1 for proc in processes if proc['type'] == 'M+C')
        parts.append('%d processes' % len(processes) + (' (%d MPS clients)' % mps_clients if mps_clients else ''))
    return ' | '.join(parts)


def _short(value):
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + '...'


# The keys of each GPU the summaries read without .get() (gpu_info always returns them, maybe null).
GPU_KEYS = ('index', 'name', 'pci_bus_id')


def check_info(info, option, needs=('driver_version', 'cuda_driver_version', 'gpu_count', 'gpus')):
    """``info`` must be a ``gpu_info`` result: a dictionary with ``available`` and, when it is
    true, the keys ``needs`` (those the summary reads)."""
    if not isinstance(info, dict) or 'available' not in info:
        raise InvalidOption('%s: %s is not the gpu_info result of edge_gpu.sharing.gpu_info (a dictionary with '
                            'available, gpus, ...)' % (option, _short(info)))
    if info['available']:
        missing = [key for key in needs if key not in info]
        if missing or not isinstance(info.get('gpus'), list) or not all(isinstance(gpu, dict) for gpu in info['gpus']):
            raise InvalidOption('%s: %s is not a gpu_info result: %s' % (
                option, _short(info), 'it lacks %s' % ', '.join(missing) if missing else 'gpus is not a list of GPUs'))
        for gpu in info['gpus']:
            lacking = [key for key in GPU_KEYS if key not in gpu]
            if lacking or not isinstance(gpu['index'], int) or isinstance(gpu['index'], bool):
                raise InvalidOption('%s: the GPU %s is not one of gpu_info\'s GPUs: %s' % (
                    option, _short(gpu), 'it lacks %s' % ', '.join(lacking) if lacking else 'its index is no number'))


def device_lines(info):
    """The summary of one device's ``gpu_info`` result, as a list of lines."""
    check_info(info, 'gpu_summary')
    if not info.get('available'):
        return ['no usable NVML: %s' % info.get('unavailable_reason')]
    header = 'driver %s, CUDA %s, %d GPU(s)' % (
        _na(info['driver_version'], '%s'), _na(info['cuda_driver_version'], '%s'), info['gpu_count'])
    daemon = info.get('mps_daemon') or {}
    if daemon.get('running'):
        header += ', MPS control daemon pid %d' % daemon['pid']
    return [header] + [gpu_line(gpu) for gpu in info['gpus']]


def fleet_summary(by_host):
    """Totals over ``{host: gpu_info result}``: devices, GPUs per model, hosts without NVML."""
    if not isinstance(by_host, dict):
        raise InvalidOption('gpu_fleet_summary: %s is not a dictionary of host name to gpu_info result' % _short(by_host))
    for host in sorted(by_host, key=str):
        check_info(by_host[host], 'gpu_fleet_summary: host %s' % host, needs=('gpus',))
    models = {}
    unavailable = []
    gpus = 0
    for host in sorted(by_host):
        info = by_host[host]
        if not info.get('available'):
            unavailable.append(host)
            continue
        for gpu in info['gpus']:
            gpus += 1
            # A GPU whose name NVML does not give (partial NVML) still counts, under 'unknown'.
            name = gpu['name'] or 'unknown'
            models[name] = models.get(name, 0) + 1
    return {
        'devices': len(by_host),
        'gpus': gpus,
        'models': models,
        'without_nvml': unavailable,
    }
