# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Deciding and applying compute / persistence mode changes on GPUs.

Plain Python, no Ansible imports. ``plan`` is pure: it compares what NVML reported with
what was asked and either returns the changes or raises ``ModeError`` listing every
problem; ``difference`` turns them into ``changed`` and ``--diff``; ``apply`` makes the
changes and puts back what it had changed if one fails.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ModeError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.gpus import label, mig_enabled
from ansible_collections.edge_gpu.sharing.plugins.module_utils.nvml import NvmlError

FIELDS = ('compute_mode', 'persistence_mode')
# What the collection sets on a GPU that MPS serves, and on one the daemon served that leaves MPS
# (its persistence mode is left as it is): sharing.mode_changes applies them, the fleet report
# explains drift with them.
MPS_MODES = {'compute_mode': 'exclusive_process', 'persistence_mode': True}
RELEASED_MODES = {'compute_mode': 'default'}


def _process_list(processes):
    return ', '.join('pid %d (%s)' % (proc['pid'], proc['name'] or 'unknown') for proc in processes)


def plan(gpus, explicit, compute_mode=None, persistence_mode=None, force=False):
    """Work out the changes for ``gpus`` (``gpu_info``-style dicts with processes).

    ``explicit`` says the user named these GPUs (rather than ``all``): a MIG-enabled GPU
    named explicitly is an error, one reached through ``all`` is skipped and reported.
    Returns ``(changes, skipped)``: ``changes`` a list of ``{gpu, before, after}``.
    """
    changes, skipped, problems = [], [], []
    for gpu in gpus:
        before = dict((field, gpu[field]) for field in FIELDS)
        after = dict(before)
        if compute_mode is not None and gpu['compute_mode'] != compute_mode:
            if mig_enabled(gpu):
                reason = 'MIG is enabled: its compute mode is not changed (MPS and compute modes apply to MIG instances)'
                if explicit:
                    problems.append('%s: %s' % (label(gpu), reason))
                else:
                    skipped.append({'index': gpu['index'], 'uuid': gpu['uuid'], 'reason': reason})
                    continue
            elif gpu['compute_mode'] is None:
                problems.append('%s does not support setting a compute mode' % label(gpu))
            elif gpu.get('processes') and not force:
                problems.append('%s runs compute processes: %s; stop them first or set force: true'
                                % (label(gpu), _process_list(gpu['processes'])))
            else:
                after['compute_mode'] = compute_mode
        if persistence_mode is not None and gpu['persistence_mode'] != persistence_mode:
            if gpu['persistence_mode'] is None:
                problems.append('%s does not support persistence mode' % label(gpu))
            else:
                after['persistence_mode'] = persistence_mode
        if after != before:
            changes.append({'gpu': gpu, 'before': before, 'after': after})
    if problems:
        raise ModeError('; '.join(problems))
    return changes, skipped


def _set(session, handle, gpu, field, value):
    if field == 'compute_mode':
        session.set_compute_mode(gpu['index'], handle, value)
    else:
        session.set_persistence_mode(gpu['index'], handle, value)


def apply(session, handles, changes):
    """Apply ``changes``; if one fails, undo the ones already made and re-raise."""
    done = []
    try:
        for change in changes:
            gpu = change['gpu']
            # Persistence first: a GPU that keeps its driver state loaded keeps its compute mode too.
            for field in ('persistence_mode', 'compute_mode'):
                if change['after'][field] != change['before'][field]:
                    _set(session, handles[gpu['index']], gpu, field, change['after'][field])
                    done.append((gpu, field, change['before'][field]))
    except NvmlError as exc:
        undo_failures = []
        for gpu, field, old in reversed(done):
            try:
                _set(session, handles[gpu['index']], gpu, field, old)
            except NvmlError as undo_exc:
                undo_failures.append(str(undo_exc))
        if undo_failures:
            raise NvmlError(exc.kind, '%s; undoing the changes already made also failed: %s'
                            % (exc, '; '.join(undo_failures)), exc.code)
        raise NvmlError(exc.kind, '%s (the %d change(s) made before were undone)' % (exc, len(done)), exc.code)


def difference(changes):
    """The changes as a ``DifferenceTracker``: one record per GPU that changes, named by its label."""
    tracker = DifferenceTracker()
    for change in changes:
        tracker.add(label(change['gpu']), change['before'], change['after'])
    return tracker
