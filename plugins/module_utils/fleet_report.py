# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet GPU report: one data model built from every device's facts and intent, and its
CSV and text forms (``report_html`` renders the page, ``report_schema`` documents the data).

Plain Python, no Ansible imports, deterministic for a given input (but for ``generated``).
The input is ``{inventory name: entry}``, an entry being
``{reachable, error, gpu_info, intent, vars}`` (see ``build``).

Drift: a reached device is drifted when converging would change it (``intent.changed``, the
``gpu_sharing`` module in check mode) or when asking failed (``error``); its reasons come from
the module's ``differences``, made readable with the GPU, what differs and, where the report
knows them, the intended and the actual value. An unreachable device's drift is ``null``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import io

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.gpu_modes import MPS_MODES, RELEASED_MODES
from ansible_collections.edge_gpu.sharing.plugins.module_utils.nvml import SAMPLE_SECONDS
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report import check_info, _short
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report_advice import advise, sampled
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report_html import render_html  # noqa: F401 pylint: disable=unused-import
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report_schema import SCHEMA_VERSION

ENTRY_KEYS = ('reachable', 'error', 'gpu_info', 'intent', 'vars')
# The gpu_info fields each GPU of the report carries under the same names.
GPU_FIELDS = ('index', 'name', 'uuid', 'pci_bus_id', 'compute_capability', 'memory', 'utilization',
              'utilization_sampled', 'compute_mode', 'persistence_mode', 'mig_mode', 'temperature', 'power_draw',
              'processes')
MEMORY_FIELDS = ('total', 'used', 'free', 'reserved')
PROCESS_FIELDS = ('pid', 'name', 'used_memory', 'type', 'mps_server', 'utilization')
MPS_FIELDS = ('running', 'visible_devices', 'default_active_thread_percentage', 'default_pinned_device_mem_limit',
              'default_client_priority')


# ---- checking the input ------------------------------------------------------------------

def _check_entry(name, entry):
    where = 'fleet_report: device %s' % name
    if not isinstance(entry, dict):
        raise InvalidOption('%s: %s is not a device entry (a dictionary with %s)' % (where, _short(entry),
                                                                                     ', '.join(ENTRY_KEYS)))
    unknown = sorted(set(entry) - set(ENTRY_KEYS), key=str)
    if unknown:
        raise InvalidOption('%s: unknown keys %s (an entry has %s)'
                            % (where, ', '.join(map(str, unknown)), ', '.join(ENTRY_KEYS)))
    if not isinstance(entry.get('reachable'), bool):
        raise InvalidOption('%s: reachable must be true or false, got %s' % (where, _short(entry.get('reachable'))))
    if entry.get('error') is not None and not isinstance(entry['error'], str):
        raise InvalidOption('%s: error must be a message or null, got %s' % (where, _short(entry['error'])))
    if not entry['reachable']:
        return
    if entry.get('gpu_info') is not None:
        check_info(entry['gpu_info'], '%s: gpu_info' % where, needs=('gpus',))
    intent = entry.get('intent')
    if intent is not None:
        if not isinstance(intent, dict):
            raise InvalidOption('%s: intent %s is not the gpu_sharing module\'s result' % (where, _short(intent)))
        checks = (('changed', bool, 'true or false'), ('differences', list, 'a list of names'),
                  ('strategies', dict, 'a dictionary of GPU index to strategy'),
                  ('mps', (dict, type(None)), 'a dictionary or null'), ('plan', (dict, type(None)), 'a dictionary'))
        for key, kind, what in checks:
            if not isinstance(intent.get(key), kind):
                raise InvalidOption('%s: intent.%s must be %s, got %s' % (where, key, what, _short(intent.get(key))))
    if entry.get('vars') is not None and not isinstance(entry['vars'], dict):
        raise InvalidOption('%s: vars must be a dictionary of the gpu_sharing module\'s options, got %s'
                            % (where, _short(entry['vars'])))


# ---- one device --------------------------------------------------------------------------

def _measured(gpu, position):
    """The sampled ``(min, mean, max)`` at ``position``, else the instant reading, else ``None``."""
    measured = sampled(gpu)
    if measured is not None:
        return measured[position]
    instant = gpu.get('utilization')
    if isinstance(instant, dict) and isinstance(instant.get('gpu'), (int, float)):
        return instant['gpu']
    return None


def _headroom(gpu):
    """What the busiest moment of the window left free (100 minus the peak)."""
    peak = _measured(gpu, 2)
    return None if peak is None else round(100.0 - peak, 1)


def _utilization(gpu):
    """The GPU's utilization for the fleet mean: the sampled mean, else the instant reading."""
    return _measured(gpu, 1)


def _gpu(name, info, strategies, plans):
    gpu = dict((key, info.get(key)) for key in GPU_FIELDS)
    gpu['device'] = name
    if isinstance(gpu['memory'], dict):
        gpu['memory'] = dict((key, gpu['memory'].get(key)) for key in MEMORY_FIELDS)
    if isinstance(gpu['processes'], list):
        gpu['processes'] = [dict(dict((key, None) for key in PROCESS_FIELDS), **process)
                            for process in gpu['processes']]
        for process in gpu['processes']:
            process['mps_server'] = bool(process['mps_server'])
    gpu['strategy'] = strategies.get(str(info['index']))
    plan = plans.get(info['index'])
    gpu['planned'] = None if plan is None else {
        'workloads': list(plan.get('workloads') or []), 'percentage': plan.get('percentage'),
        'reserved': bool(plan.get('reserved')), 'mig': bool(plan.get('mig'))}
    gpu['headroom'] = _headroom(info)
    return gpu


def _actual(info):
    if info is None:
        return None
    daemon = info.get('mps_daemon')
    gpus = []
    for gpu in info.get('gpus') or []:
        processes = gpu.get('processes')
        known = isinstance(processes, list)
        gpus.append({
            'index': gpu['index'], 'compute_mode': gpu.get('compute_mode'), 'persistence_mode': gpu.get('persistence_mode'),
            'mps_server': any(p.get('mps_server') for p in processes) if known else None,
            'mps_clients': sum(1 for p in processes if p.get('type') == 'M+C') if known else None,
        })
    return {'mps_daemon': None if not isinstance(daemon, dict) else {'running': daemon.get('running'),
                                                                     'pid': daemon.get('pid')},
            'gpus': gpus}


def _vars_strategies(settings, gpus):
    """Per-GPU strategies from the role's ``gpu_strategies`` alone (no intent: the drift check
    failed), keyed by GPU index as the planner reads them; none where they do not resolve (a bad
    variable is what made the check fail, and its message is the device's error)."""
    try:
        return dict((str(index), strategy) for index, strategy in planner.gpu_strategies(
            settings.get('gpu_strategies') or None, gpus, 'gpu_strategies').items())
    except InvalidOption:
        return {}


def _vars_text(value):
    return None if value is None else str(value)


def _intended(intent, settings, gpus):
    if intent is None and settings is None:
        return None
    intent = intent or {}
    settings = settings or {}
    plan = intent.get('plan') or {}
    mps = intent.get('mps')
    strategies = intent.get('strategies') or _vars_strategies(settings, gpus)
    workloads = plan.get('workloads') if isinstance(plan.get('workloads'), list) else settings.get('workloads')
    return {
        'strategy': _vars_text(settings.get('strategy')),
        'strategies': dict((str(key), value) for key, value in strategies.items()),
        'platform': _vars_text(settings.get('platform')),
        'workloads': len(workloads) if isinstance(workloads, list) else 0,
        'mps': None if not isinstance(mps, dict) else dict((key, mps.get(key)) for key in MPS_FIELDS),
    }


def _gpu_names(visible, gpus):
    """``GPU 1 (GPU-...)`` for each UUID the daemon serves (``visible``: comma-separated, or none: all)."""
    if not visible:
        return 'every GPU'
    named = []
    for uuid in visible.split(','):
        gpu = gpu_rules.find(gpus, uuid.strip()) if gpu_rules.GPU_UUID_RE.match(uuid.strip()) else None
        named.append(gpu_rules.label(gpu) if gpu else uuid.strip())
    return ', '.join(named)


def _daemon_text(mps, gpus):
    if not mps.get('running'):
        return 'not running'
    parts = ['running, serving %s' % _gpu_names(mps.get('visible_devices'), gpus)]
    if mps.get('default_active_thread_percentage') is not None:
        parts.append('default active thread percentage %s' % units.number_text(mps['default_active_thread_percentage']))
    limits = dict((device, text) for device, text in (mps.get('default_pinned_device_mem_limit') or {}).items() if text)
    if limits:
        parts.append('pinned memory limits %s' % ', '.join('%s=%s' % item for item in sorted(limits.items())))
    return ', '.join(parts)


def _mode_reason(label, gpu, strategy):
    """Why a GPU's modes differ: the intended modes for its strategy against the GPU's own."""
    if gpu is None:
        return '%s: its compute or persistence mode differs from what its strategy needs' % label
    wanted = MPS_MODES if strategy == 'mps' else RELEASED_MODES
    parts = []
    for key in sorted(wanted):
        if gpu.get(key) != wanted[key]:
            show = (lambda value: 'on' if value else 'off') if key == 'persistence_mode' else str
            actual = 'unknown' if gpu.get(key) is None else show(gpu[key])
            parts.append('%s %s intended, actual %s' % (key.replace('_', ' '), show(wanted[key]), actual))
    why = 'for %s' % strategy if strategy else 'for its strategy'
    return '%s (%s): %s' % (label, why, '; '.join(parts) if parts else 'its modes differ')


def drift_reasons(entry):
    """Readable reasons for ``entry``'s drift (empty when it is not drifted)."""
    reasons = []
    if entry.get('error'):
        reasons.append('error while asking the device: %s' % entry['error'])
    intent = entry.get('intent')
    if not intent or not intent.get('changed'):
        return reasons
    info = entry.get('gpu_info') or {}
    gpus = info.get('gpus') or []
    labels = dict((gpu_rules.label(gpu), gpu) for gpu in gpus)
    strategies = intent.get('strategies') or {}
    differences = [str(name) for name in intent.get('differences') or []]
    for name in differences:
        if name in labels or name.startswith('GPU '):
            gpu = labels.get(name)
            reasons.append(_mode_reason(name, gpu, strategies.get(str(gpu['index'])) if gpu else None))
        elif name == 'mps':
            daemon = info.get('mps_daemon') or {}
            actual = 'unknown' if daemon.get('running') is None else (
                'running (pid %s)' % daemon.get('pid') if daemon['running'] else 'not running')
            intended = _daemon_text(intent['mps'], gpus) if intent.get('mps') else 'unknown'
            if daemon.get('running') and (intent.get('mps') or {}).get('running'):
                actual += ' with other GPUs or defaults'
            reasons.append('MPS control daemon: intended %s; actual %s' % (intended, actual))
        elif name == 'manifest':
            reasons.append('IoT Edge deployment manifest: its content or file attributes differ from the %d '
                           'planned workload(s)' % len((intent.get('plan') or {}).get('workloads') or []))
        else:
            reasons.append('%s differs from its intended state' % name)
    if not differences:
        reasons.append('converging would change the device (%s)' % (intent.get('summary') or 'no detail given'))
    return reasons


def device(name, entry):
    """One device of the report (``entry`` already checked)."""
    reachable = entry['reachable']
    info = entry.get('gpu_info') if reachable else None
    intent = entry.get('intent') if reachable else None
    settings = entry.get('vars') if reachable else None
    strategies = dict((str(key), value) for key, value in ((intent or {}).get('strategies') or {}).items())
    plans = dict((plan['index'], plan) for plan in ((intent or {}).get('plan') or {}).get('gpus') or []
                 if isinstance(plan, dict) and 'index' in plan)
    ordered = sorted((info or {}).get('gpus') or [], key=lambda gpu: gpu['index'])
    gpus = [_gpu(name, gpu, strategies, plans) for gpu in ordered]
    headrooms = [gpu['headroom'] for gpu in gpus if gpu['headroom'] is not None]
    drifted = None
    reasons = []
    if reachable:
        reasons = drift_reasons(entry)
        drifted = bool(reasons)
    return {
        'name': name,
        'reachable': reachable,
        'error': entry.get('error') if reachable else None,
        'available': None if info is None else bool(info.get('available')),
        'unavailable_reason': None if info is None else info.get('unavailable_reason'),
        'driver_version': None if info is None else info.get('driver_version'),
        'cuda_driver_version': None if info is None else info.get('cuda_driver_version'),
        'intended': _intended(intent, settings, (info or {}).get('gpus') or []) if reachable else None,
        'actual': _actual(info),
        'drift': drifted,
        'drift_reasons': reasons,
        'headroom': round(sum(headrooms), 1) if headrooms else None,
        'advice': advise({'intent': intent, 'vars': settings}, (info or {}).get('gpus') or []) if reachable else [],
        'gpus': gpus,
    }


def build(devices, generated=None, sample_seconds=None):
    """The report for ``devices`` (inventory name -> entry); ``InvalidOption`` names a bad entry.

    An entry is ``{"reachable": bool, "error": str|None, "gpu_info": <gpu_info's result>|None,
    "intent": <the gpu_sharing module's check-mode result>|None, "vars": <its planning options>|None}``.
    """
    if not isinstance(devices, dict):
        raise InvalidOption('fleet_report: %s is not a dictionary of inventory name to device entry' % _short(devices))
    if generated is not None and not isinstance(generated, str):
        raise InvalidOption('fleet_report: generated must be a time stamp (a string) or null, got %s' % _short(generated))
    # The window gpu_info was asked for: the same rule as its sample_seconds (0 or 0.1 to 3600).
    seconds = None if sample_seconds is None else units.seconds(
        sample_seconds, 'fleet_report: sample_seconds', SAMPLE_SECONDS[0], SAMPLE_SECONDS[1], zero=True)
    for name in sorted(devices, key=str):
        if not isinstance(name, str) or not name:
            raise InvalidOption('fleet_report: %s is not an inventory host name' % _short(name))
        _check_entry(name, devices[name])
    rows = [device(name, devices[name]) for name in sorted(devices)]
    gpus = [gpu for row in rows for gpu in row['gpus']]
    by_strategy = {}
    for gpu in gpus:
        key = gpu['strategy'] or 'unknown'
        by_strategy[key] = by_strategy.get(key, 0) + 1
    utilizations = [value for value in (_utilization(gpu) for gpu in gpus) if value is not None]
    summary = {
        'devices': len(rows),
        'reachable': sum(1 for row in rows if row['reachable']),
        'unreachable': [row['name'] for row in rows if not row['reachable']],
        'gpuless': [row['name'] for row in rows if row['reachable'] and row['available'] is not None and not row['gpus']],
        'gpus': len(gpus),
        'gpus_by_strategy': by_strategy,
        'mean_utilization': round(sum(utilizations) / len(utilizations), 1) if utilizations else None,
        'drifted': [row['name'] for row in rows if row['drift']],
        'advice': sum(len(row['advice']) for row in rows),
    }
    return {'schema_version': SCHEMA_VERSION, 'generated': generated, 'sample_seconds': seconds,
            'summary': summary, 'devices': rows}


# ---- checking a report handed back (filters) ----------------------------------------------

def check_report(report, option):
    """``report`` must be what ``build`` returned (also after a trip through JSON)."""
    if (not isinstance(report, dict) or report.get('schema_version') != SCHEMA_VERSION
            or not isinstance(report.get('devices'), list) or not isinstance(report.get('summary'), dict)
            or not all(isinstance(row, dict) and isinstance(row.get('gpus'), list) for row in report['devices'])):
        raise InvalidOption('%s: %s is not a report from edge_gpu.sharing.fleet_report (schema_version %d)'
                            % (option, _short(report), SCHEMA_VERSION))
    return report


# ---- CSV and text ------------------------------------------------------------------------

CSV_COLUMNS = (
    'device', 'reachable', 'drift', 'index', 'name', 'uuid', 'pci_bus_id', 'strategy', 'compute_mode',
    'persistence_mode', 'mig', 'memory_total', 'memory_used', 'memory_reserved', 'memory_free',
    'utilization_gpu', 'utilization_memory', 'samples', 'sample_seconds', 'gpu_min', 'gpu_mean', 'gpu_max',
    'memory_min', 'memory_mean', 'memory_max', 'temperature', 'power_draw', 'processes', 'mps_clients',
    'process_memory', 'headroom',
)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


def _cell(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        # GPU names, UUIDs and PCI ids are whatever the device answers: shown as text, never run.
        return "'" + value
    return value


def csv_row(row, gpu):
    memory = gpu.get('memory') or {}
    instant = gpu.get('utilization') or {}
    window = gpu.get('utilization_sampled') or {}
    processes = gpu.get('processes')
    used = [p.get('used_memory') for p in processes or []]
    values = {
        'device': row['name'], 'reachable': row['reachable'], 'drift': row['drift'],
        'index': gpu['index'], 'name': gpu.get('name'), 'uuid': gpu.get('uuid'), 'pci_bus_id': gpu.get('pci_bus_id'),
        'strategy': gpu.get('strategy'), 'compute_mode': gpu.get('compute_mode'),
        'persistence_mode': gpu.get('persistence_mode'), 'mig': gpu_rules.mig_enabled(gpu),
        'memory_total': memory.get('total'), 'memory_used': memory.get('used'),
        'memory_reserved': memory.get('reserved'), 'memory_free': memory.get('free'),
        'utilization_gpu': instant.get('gpu'), 'utilization_memory': instant.get('memory'),
        'samples': window.get('samples'), 'sample_seconds': window.get('seconds'),
        'temperature': gpu.get('temperature'), 'power_draw': gpu.get('power_draw'),
        'processes': None if processes is None else len(processes),
        'mps_clients': None if processes is None else sum(1 for p in processes if p.get('type') == 'M+C'),
        'process_memory': sum(value for value in used if value is not None) if used and any(
            value is not None for value in used) else None,
        'headroom': gpu.get('headroom'),
    }
    for part in ('gpu', 'memory'):
        for key in ('min', 'mean', 'max'):
            values['%s_%s' % (part, key)] = (window.get(part) or {}).get(key)
    return [_cell(values[column]) for column in CSV_COLUMNS]


def render_csv(report):
    """One row per GPU, a header row first (RFC 4180: CRLF line ends, quoting where needed).

    Process names are left out (whatever a device's processes call themselves); any other text
    that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or
    a carriage return) gets a leading ``'``.
    """
    check_report(report, 'fleet_report_files')
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in report['devices']:
        for gpu in row['gpus']:
            writer.writerow(csv_row(row, gpu))
    return out.getvalue()


def _names(names, limit=8):
    shown = ', '.join(names[:limit])
    return shown + (' and %d more' % (len(names) - limit) if len(names) > limit else '')


def render_text(report, limit=10):
    """A few lines for the end of the play: totals, drift, unreachable devices, advice."""
    check_report(report, 'fleet_report_text')
    summary = report['summary']
    by_strategy = ', '.join('%s %d' % item for item in sorted(summary['gpus_by_strategy'].items()))
    mean = summary['mean_utilization']
    lines = ['%d device(s), %d reached, %d GPU(s)%s, mean utilization %s' % (
        summary['devices'], summary['reachable'], summary['gpus'], ' (%s)' % by_strategy if by_strategy else '',
        'unknown' if mean is None else '%s %%' % mean)]
    if summary['unreachable']:
        lines.append('unreachable: %s' % _names(summary['unreachable']))
    if summary['gpuless']:
        lines.append('without a GPU or usable NVML: %s' % _names(summary['gpuless']))
    drifted = [row for row in report['devices'] if row.get('drift')]
    if not drifted:
        lines.append('no device is out of its intended state')
    else:
        lines.append('%d device(s) out of their intended state:' % len(drifted))
        for row in drifted[:limit]:
            lines.append('  %s: %s' % (row['name'], '; '.join(row['drift_reasons'])))
        if len(drifted) > limit:
            lines.append('  ... and %d more (see report.json)' % (len(drifted) - limit))
    advice = [(row['name'], item) for row in report['devices'] for item in row.get('advice') or []]
    counts = {}
    for _name, item in advice:
        counts[item['kind']] = counts.get(item['kind'], 0) + 1
    if advice:
        lines.append('advice: %s' % ', '.join('%d %s' % (counts[kind], kind) for kind in sorted(counts)))
        for name, item in [pair for pair in advice if pair[1]['kind'] != 'room'][:limit]:
            lines.append('  %s: %s' % (name, item['message']))
    return lines
