# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report's time and page size for a large simulated fleet, measured in one run.

    PYTHONPATH=build/src .venv/bin/python benchmarks/report_scaling.py [--devices 500]

Builds the entries of N devices with two T4s each (MPS on one GPU, sampled utilization, MPS
clients, every fifth device drifted, every fourth with a move to advise, one in fifty
unreachable), then times ``build``,
``render_html`` and ``render_csv`` (best of 3) and prints the seconds, the HTML and CSV sizes,
and the same for N/2 devices, so the ratio shows how the time grows. Targets (issue 11):
500 devices under 2 s, the HTML under 2 MB.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import timeit

from ansible_collections.edge_gpu.sharing.plugins.module_utils import fleet_report

MIB = 1024 * 1024
WORKLOADS = [
    {'name': 'detector', 'image': 'registry.local/detector:1.4', 'gpu_percentage': 20, 'gpu_memory': '2G'},
    {'name': 'tracker', 'image': 'registry.local/tracker:2.0', 'gpu_percentage': 30},
    {'name': 'recorder', 'image': 'registry.local/recorder:3.1', 'gpu': 0},
]


def gpu(number, index, busy):
    low, high = (5, 60) if busy else (0, 4)
    processes = [{'pid': 3100, 'name': 'nvidia-cuda-mps-server', 'used_memory': 32 * MIB, 'type': 'C',
                  'mps_server': True, 'utilization': {'sm': 0.0, 'memory': 0.0}}] if busy else []
    processes += [{'pid': 3200 + client, 'name': '/usr/bin/python3', 'used_memory': 1184 * MIB,
                   'type': 'M+C' if busy else 'C', 'mps_server': False,
                   'utilization': {'sm': 12.5, 'memory': 3.0}} for client in range(2)]
    return {
        'index': index, 'name': 'Tesla T4', 'uuid': 'GPU-%08x-0000-4000-8000-%012x' % (number, index),
        'pci_bus_id': '00000000:%02X:00.0' % (0x3B + index), 'compute_capability': '7.5',
        'memory': {'total': 15360 * MIB, 'used': 2400 * MIB, 'free': 12900 * MIB, 'reserved': 60 * MIB},
        'utilization': {'gpu': high, 'memory': 12},
        'utilization_sampled': {'samples': 6, 'seconds': 5.0, 'gpu': {'min': low, 'mean': (low + high) / 2.0, 'max': high},
                                'memory': {'min': 1, 'mean': 6.5, 'max': 12}},
        'compute_mode': 'exclusive_process' if busy else 'default', 'persistence_mode': True, 'mig_mode': None,
        'temperature': 40 + index, 'power_draw': 27.5, 'processes': processes,
    }


def entry(number):
    if number % 50 == 49:
        return {'reachable': False, 'error': None, 'gpu_info': None, 'intent': None, 'vars': None}
    gpus = [gpu(number, 0, False), gpu(number, 1, True)]
    # Every fourth device: GPU 0 saturated while GPU 1 idles, with MPS oversubscription allowed, so
    # the move advice (one more plan per device) is computed and given.
    moving = number % 4 == 1
    if moving:
        gpus[0]['utilization_sampled']['gpu'] = {'min': 90, 'mean': 96.0, 'max': 100}
        gpus[1]['utilization_sampled']['gpu'] = {'min': 0, 'mean': 1.0, 'max': 3}
    plan = {'workloads': [
        {'name': 'detector', 'gpus': [1], 'mps': True, 'sharing': 'mps', 'gpu_percentage': 20.0, 'gpu_memory': 2 * 1024 * MIB},
        {'name': 'tracker', 'gpus': [1], 'mps': True, 'sharing': 'mps', 'gpu_percentage': 30.0, 'gpu_memory': None},
        {'name': 'recorder', 'gpus': [0], 'mps': False, 'sharing': 'time_slicing', 'gpu_percentage': None,
         'gpu_memory': None}],
        'gpus': [{'index': 0, 'sharing': 'time_slicing', 'percentage': None, 'reserved': False, 'mig': False,
                  'clients': 1, 'workloads': ['recorder']},
                 {'index': 1, 'sharing': 'mps', 'percentage': 50.0, 'reserved': False, 'mig': False,
                  'clients': 2, 'workloads': ['detector', 'tracker']}]}
    drifted = number % 5 == 0
    return {
        'reachable': True, 'error': None,
        'gpu_info': {'available': True, 'unavailable_reason': None, 'driver_version': '535.261.03',
                     'cuda_driver_version': '12.2', 'gpu_count': 2, 'gpus': gpus,
                     'mps_daemon': {'pipe_directory': '/tmp/nvidia-mps', 'running': not drifted,
                                    'pid': None if drifted else 4000 + number, 'error': None}},
        'intent': {'changed': drifted, 'differences': ['mps'] if drifted else [],
                   'strategies': {'0': 'time_slicing', '1': 'mps'},
                   'mps': {'running': True, 'visible_devices': gpus[1]['uuid'], 'default_active_thread_percentage': 50.0,
                           'default_pinned_device_mem_limit': {'0': '4G'}, 'default_client_priority': 0,
                           'pid': None, 'server_list': [], 'log_directory': '/var/log/nvidia-mps'},
                   'plan': plan, 'summary': 'strategy time_slicing; GPUs 0:time_slicing 1:mps'},
        'vars': {'strategy': 'time_slicing', 'gpu_strategies': {1: 'mps'}, 'platform': 'kubernetes',
                 'workloads': WORKLOADS, 'reserved_gpus': [], 'oversubscribe': moving, 'device_ids': 'index',
                 'mps_pipe_directory': '/tmp/nvidia-mps', 'mps_default_active_thread_percentage': 50},
    }


def fleet(count):
    return dict(('edge-%04d' % number, entry(number)) for number in range(count))


def measure(count):
    devices = fleet(count)

    def once():
        report = fleet_report.build(devices, generated='2026-11-26T00:00:00Z', sample_seconds=5)
        return report, fleet_report.render_html(report), fleet_report.render_csv(report)

    seconds = min(timeit.repeat(once, number=1, repeat=3))
    report, page, table = once()
    return seconds, report, page, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--devices', type=int, default=500)
    count = parser.parse_args().devices
    half_seconds = measure(count // 2)[0]
    seconds, report, page, table = measure(count)
    gpus = report['summary']['gpus']
    kinds = {}
    for row in report['devices']:
        for item in row['advice']:
            kinds[item['kind']] = kinds.get(item['kind'], 0) + 1
    print('%d devices, %d GPUs, advice %s: build + render_html + render_csv %.3f s (best of 3); '
          'x%.2f for x2 devices' % (count, gpus, ', '.join('%d %s' % (kinds[kind], kind) for kind in sorted(kinds)),
                                    seconds, seconds / half_seconds))
    print('HTML %.2f MB (%d bytes, %d per GPU), CSV %.2f MB' % (
        len(page.encode('utf-8')) / 1e6, len(page.encode('utf-8')), len(page.encode('utf-8')) // max(gpus, 1),
        len(table.encode('utf-8')) / 1e6))
    print('targets: under 2 s: %s; HTML under 2 MB: %s' % (
        'met' if seconds < 2 else 'MISSED', 'met' if len(page.encode('utf-8')) < 2 * 1000 * 1000 else 'MISSED'))


if __name__ == '__main__':
    main()
