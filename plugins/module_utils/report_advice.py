# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Re-planning advice from measured utilization and a device's planned workloads.

Plain Python, no Ansible imports, deterministic. Advice only: nothing here changes a device.
Every rule reads the sampled utilization (``utilization_sampled``), never one instant reading:

``shrink``  an MPS GPU whose planned shares add up to far more than its measured peak: smaller
            ``gpu_percentage``s for its workloads, in proportion, leaving a margin above the peak;
``move``    a saturated GPU while another GPU of the same device idles (not reserved, not MIG):
            pin one of its workloads to the idle GPU, only when the planner (``plan.make_plan``,
            with the device's own planning inputs) accepts the result, which the advice carries;
            an idle GPU takes at most one move (it is no longer idle after it);
``room``    a usable GPU with headroom whose plan has room for more (a time-sliced GPU, an MPS
            GPU with unplanned SMs and client slots, an unshared GPU with no workload), unless a
            move fills it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules
from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.units import number_text

# Planned MPS shares this many points above the measured peak are "far above" it.
SHRINK_SLACK = 30.0
# What a shrunk GPU keeps above its measured peak, in points.
SHRINK_MARGIN = 20.0
# A GPU whose mean utilization reaches this is saturated; one whose peak stays at or below IDLE_MAX idles.
SATURATED_MEAN = 90.0
IDLE_MAX = 10.0
# A GPU has headroom for another workload when its peak stays at or below this.
ROOM_MAX = 50.0
# An MPS GPU has spare plan capacity when at least this many percent of its SMs are unplanned.
MPS_ROOM = 10.0

MPS, TIME_SLICING, NONE = 'mps', 'time_slicing', 'none'


def sampled(gpu):
    """``(min, mean, max, window)`` of the GPU's sampled utilization, or ``None`` when not sampled."""
    window = gpu.get('utilization_sampled')
    if not isinstance(window, dict) or not isinstance(window.get('gpu'), dict):
        return None
    values = window['gpu']
    if any(not isinstance(values.get(key), (int, float)) for key in ('min', 'mean', 'max')):
        return None
    return values['min'], values['mean'], values['max'], window


def _over(window):
    return 'over %s s (%d samples)' % (number_text(window.get('seconds') or 0), window.get('samples') or 0)


def _percent(value):
    return '%s %%' % number_text(round(value, 1))


def _single_gpu_workloads(plan, index):
    return [workload for workload in plan.get('workloads') or [] if workload.get('gpus') == [index]]


def shrink(plan, strategies, by_index):
    advice = []
    for gpu_plan in plan.get('gpus') or []:
        index = gpu_plan['index']
        gpu = by_index.get(index)
        measured = sampled(gpu) if gpu else None
        planned = gpu_plan.get('percentage')
        if measured is None or strategies.get(str(index)) != MPS or not planned:
            continue
        peak, window = measured[2], measured[3]
        if planned - peak < SHRINK_SLACK:
            continue
        target = min(planned, peak + SHRINK_MARGIN)
        for workload in _single_gpu_workloads(plan, index):
            if not workload.get('mps'):
                continue
            current = workload.get('gpu_percentage')
            share = planner.FULL_GPU if current is None else current
            proposed = max(1, int(math.ceil(share * target / planned)))
            if proposed >= share:
                continue
            advice.append({
                'kind': 'shrink', 'gpu': index, 'workload': workload['name'], 'plan': None,
                'message': '%s: the MPS shares planned on it add up to %s of its SMs, but its utilization peaked '
                           'at %s %s; give workload %s gpu_percentage %d instead of %s' % (
                               gpu_rules.label(gpu), _percent(planned), _percent(peak), _over(window),
                               workload['name'], proposed,
                               'the whole GPU (no gpu_percentage)' if current is None else number_text(current)),
            })
    return advice


def _placement(result, name, index):
    """The parts of a plan that say where everything runs (no environment, no settings)."""
    return {
        'change': {'workload': name, 'gpu': index},
        'workloads': [dict((key, workload.get(key)) for key in ('name', 'gpus', 'sharing', 'gpu_percentage', 'gpu_memory'))
                      for workload in result['workloads']],
        'gpus': [dict((key, gpu.get(key)) for key in ('index', 'sharing', 'percentage', 'workloads'))
                 for gpu in result['gpus']],
    }


def replan(gpus, settings, strategies, name, index):
    """The plan with workload ``name`` pinned to GPU ``index`` (``settings``: the device's planning
    inputs); ``None`` when the planner refuses it or puts the workload elsewhere."""
    workloads = []
    for workload in planner.workloads_from_params(settings.get('workloads') or []):
        if workload.get('name') == name:
            workload = dict(workload, gpu=index)
        workloads.append(workload)
    try:
        result = planner.make_plan(
            gpus, workloads, sharing=settings.get('strategy') or NONE,
            reserved_gpus=settings.get('reserved_gpus') or [],
            oversubscribe=settings.get('oversubscribe') or False,
            mps_pipe_directory=settings.get('mps_pipe_directory') or gpu_rules.DEFAULT_PIPE_DIRECTORY,
            device_ids=settings.get('device_ids') or 'index',
            gpu_sharing=strategies or settings.get('gpu_strategies') or None)
    except InvalidOption:
        return None
    moved = [workload for workload in result['workloads'] if workload['name'] == name]
    if not moved or moved[0]['gpus'] != [index]:
        return None
    return result


def _usable(gpu, gpu_plan):
    return not gpu_rules.mig_enabled(gpu) and not (gpu_plan or {}).get('reserved') and not (gpu_plan or {}).get('mig')


def move(plan, strategies, settings, gpus, by_index):
    if not settings or not settings.get('workloads'):
        return []
    plans = dict((gpu_plan['index'], gpu_plan) for gpu_plan in plan.get('gpus') or [])
    saturated, idle = [], []
    for gpu in gpus:
        measured = sampled(gpu)
        if measured is None:
            continue
        if measured[1] >= SATURATED_MEAN:
            saturated.append((gpu, measured))
        elif measured[2] <= IDLE_MAX and _usable(gpu, plans.get(gpu['index'])):
            idle.append((gpu, measured))
    advice = []
    for busy, busy_measured in saturated:
        found = None
        for free, free_measured in idle:
            for workload in _single_gpu_workloads(plan, busy['index']):
                result = replan(gpus, settings, strategies, workload['name'], free['index'])
                if result is not None:
                    found = (free, free_measured, workload['name'], result)
                    break
            if found:
                break
        if not found:
            continue
        free, free_measured, name, result = found
        # Once a workload moves there the GPU is no longer idle: a second saturated GPU must not
        # be sent to it too (two moves the planner accepts one by one may not fit together).
        idle = [pair for pair in idle if pair[0]['index'] != free['index']]
        advice.append({
            'kind': 'move', 'gpu': busy['index'], 'workload': name,
            'plan': _placement(result, name, free['index']),
            'message': '%s is saturated (mean %s %s) while %s idles (peak %s): pin workload %s to it (gpu: %d); '
                       'the planner accepts that placement' % (
                           gpu_rules.label(busy), _percent(busy_measured[1]), _over(busy_measured[3]),
                           gpu_rules.label(free), _percent(free_measured[2]), name, free['index']),
        })
    return advice


def room(plan, strategies, gpus):
    plans = dict((gpu_plan['index'], gpu_plan) for gpu_plan in plan.get('gpus') or [])
    limit = gpu_rules.mps_client_limit(gpus)
    advice = []
    for gpu in gpus:
        measured = sampled(gpu)
        gpu_plan = plans.get(gpu['index'])
        strategy = strategies.get(str(gpu['index']))
        if measured is None or gpu_plan is None or not _usable(gpu, gpu_plan) or measured[2] > ROOM_MAX:
            continue
        workloads = gpu_plan.get('workloads') or []
        if strategy == MPS:
            planned = gpu_plan.get('percentage') or 0.0
            if planner.FULL_GPU - planned < MPS_ROOM or (gpu_plan.get('clients') or 0) >= limit:
                continue
            what = 'MPS with %s of its SMs planned (%d client(s))' % (_percent(planned), gpu_plan.get('clients') or 0)
        elif strategy == TIME_SLICING:
            what = 'time-sliced with %d workload(s)' % len(workloads)
        elif strategy == NONE and not workloads:
            what = 'not shared and free'
        else:
            continue
        advice.append({
            'kind': 'room', 'gpu': gpu['index'], 'workload': None, 'plan': None,
            'message': '%s has room for more workloads: utilization peaked at %s %s; %s' % (
                gpu_rules.label(gpu), _percent(measured[2]), _over(measured[3]), what),
        })
    return advice


def advise(entry, gpus):
    """The advice for one device: ``entry`` is its report input (``intent``, ``vars``), ``gpus`` its
    ``gpu_info`` GPUs. Without an intent (plan and strategies) there is nothing to advise."""
    intent = entry.get('intent') or {}
    plan = intent.get('plan') or {}
    if not gpus or not plan.get('gpus'):
        return []
    strategies = dict((str(key), value) for key, value in (intent.get('strategies') or {}).items())
    by_index = dict((gpu['index'], gpu) for gpu in gpus)
    moves = move(plan, strategies, entry.get('vars'), gpus, by_index)
    # A GPU a move fills has no room left to offer.
    targets = set(item['plan']['change']['gpu'] for item in moves)
    return (shrink(plan, strategies, by_index) + moves
            + [item for item in room(plan, strategies, gpus) if item['gpu'] not in targets])
