# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How the planner's time grows with the number of workloads, measured in one run.

    PYTHONPATH=build/src .venv/bin/python benchmarks/plan_scaling.py

Prints the time per plan for 50, 100, 200 and 400 workloads on 16 GPUs and the ratio of each
to the one before; a ratio near 2 means the planner grows linearly with the workloads.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import timeit

from ansible_collections.edge_gpu.sharing.plugins.module_utils.plan import make_plan

GIB = 1024 ** 3


def gpus(count):
    return [{'index': index, 'uuid': 'GPU-%08x-0000-4000-8000-%012x' % (index, index), 'name': 'Tesla T4',
             'compute_capability': '7.5', 'memory': {'total': 1024 * GIB}, 'mig_mode': None} for index in range(count)]


def workloads(count):
    return [{'name': 'w%d' % number, 'image': 'registry.local/w:%d' % number, 'gpu_percentage': 1,
             'gpu_memory': '1G'} for number in range(count)]


def main():
    devices = gpus(16)
    previous = None
    for count in (50, 100, 200, 400):
        load = workloads(count)
        runs = 20
        seconds = min(timeit.repeat(lambda: make_plan(devices, load, 'mps'), number=runs, repeat=3)) / runs
        ratio = '' if previous is None else '  x%.2f for x2 workloads' % (seconds / previous)
        print('%4d workloads: %8.3f ms per plan%s' % (count, seconds * 1000, ratio))
        previous = seconds


if __name__ == '__main__':
    main()
