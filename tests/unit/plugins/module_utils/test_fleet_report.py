# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report's model, schema, drift, advice and renderers, on fixed inputs.

The GPUs are written the way gpu_info returns them after issue 11 (contract section 1):
``memory`` with ``reserved`` (null on v1 drivers), ``utilization_sampled`` (null when not
sampled), per-process ``utilization``. The intents are what the gpu_sharing module returns in
check mode; their plans come from the planner, as the module's do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import csv
import io
import json
import re
from html.parser import HTMLParser

import jsonschema
import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import fleet_report
from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report_html import render_html
from ansible_collections.edge_gpu.sharing.plugins.module_utils.report_schema import SCHEMA

MIB = 1024 * 1024
UUIDS = ['GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6', 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7',
         'GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8']
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def window(low, mean, high, samples=6, seconds=5.0):
    return {'samples': samples, 'seconds': seconds, 'gpu': {'min': low, 'mean': mean, 'max': high},
            'memory': {'min': 1, 'mean': 2.5, 'max': 4}}


def process(pid, kind, used_mib, name='/usr/bin/python3', server=False, sm=None):
    return {'pid': pid, 'name': name, 'used_memory': used_mib * MIB, 'type': kind, 'mps_server': server,
            'utilization': None if sm is None else {'sm': sm, 'memory': 1.0}}


def gpu(index, sampled=None, reserved_mib=60, compute_mode='default', persistence=True, processes=(), mig=False,
        instant=7):
    return {
        'index': index, 'name': 'Tesla T4', 'uuid': UUIDS[index], 'pci_bus_id': '00000000:%02X:00.0' % (0x3B + index),
        'compute_capability': '7.5',
        'memory': {'total': 15360 * MIB, 'used': 1200 * MIB, 'free': 14100 * MIB,
                   'reserved': None if reserved_mib is None else reserved_mib * MIB},
        'utilization': {'gpu': instant, 'memory': 3}, 'utilization_sampled': sampled,
        'compute_mode': compute_mode, 'persistence_mode': persistence,
        'mig_mode': {'current': 'enabled', 'pending': 'enabled'} if mig else None,
        'temperature': 40 + index, 'power_draw': 27.5, 'processes': list(processes),
    }


def info(gpus, running=False, pid=None, available=True):
    return {'available': available, 'unavailable_reason': None if available else 'no NVIDIA driver',
            'driver_version': '535.261.03' if available else None, 'cuda_driver_version': '12.2' if available else None,
            'nvml_version': None, 'gpu_count': len(gpus), 'gpus': gpus,
            'mps_daemon': {'pipe_directory': '/tmp/nvidia-mps', 'running': running, 'pid': pid, 'error': None}}


def settings(workloads, strategy='time_slicing', gpu_strategies=None, reserved=None, oversubscribe=False):
    return {'strategy': strategy, 'gpu_strategies': gpu_strategies or {}, 'platform': 'kubernetes',
            'workloads': workloads, 'reserved_gpus': reserved or [], 'oversubscribe': oversubscribe, 'device_ids': 'index',
            'mps_pipe_directory': '/tmp/nvidia-mps', 'mps_default_active_thread_percentage': None}


def entry(gpus, workloads=(), strategies=None, changed=False, differences=(), mps=None, running=False, pid=None,
          reserved=None, strategy='time_slicing', error=None, oversubscribe=False):
    """A reached device: its gpu_info, and the gpu_sharing module's check-mode result for ``workloads``."""
    strategies = strategies or dict((str(g['index']), strategy) for g in gpus)
    chosen = dict((int(index), value) for index, value in strategies.items())
    plan = planner.make_plan(gpus, list(workloads), sharing=strategy, gpu_sharing=chosen, reserved_gpus=reserved or [],
                             oversubscribe=oversubscribe)
    return {
        'reachable': True, 'error': error, 'gpu_info': info(gpus, running, pid),
        'intent': {'changed': changed, 'differences': list(differences), 'strategies': strategies, 'mps': mps,
                   'plan': plan, 'summary': 'strategy %s' % strategy},
        'vars': settings(list(workloads), strategy, dict((index, value) for index, value in chosen.items()
                                                         if value != strategy), reserved, oversubscribe),
    }


def work(name, **more):
    return dict(name=name, image='registry.local/%s:1' % name, **more)


MPS_RUNNING = {'running': True, 'pid': None, 'server_list': [], 'visible_devices': UUIDS[1],
               'log_directory': '/var/log/nvidia-mps', 'default_active_thread_percentage': 50.0,
               'default_pinned_device_mem_limit': {'0': '4G'}, 'default_client_priority': 0}
MPS_STOPPED = dict(MPS_RUNNING, running=False, visible_devices=None, default_active_thread_percentage=100.0,
                   default_pinned_device_mem_limit={})
TWO_MPS_WORKLOADS = [work('detector', gpu_percentage=20, gpu_memory='2G'), work('tracker', gpu_percentage=30, gpu=1)]


def fleet():
    """One device per drift case, plus one that shows MPS processes and sampled utilization."""
    mps_gpus = [gpu(0, window(0, 1.5, 4)),
                gpu(1, window(10, 25.5, 60), compute_mode='exclusive_process', processes=[
                    process(3100, 'C', 32, 'nvidia-cuda-mps-server', server=True, sm=0.0),
                    process(3201, 'M+C', 1184, sm=12.5), process(3202, 'M+C', 1184, sm=8.0)])]
    return {
        'edge-in-sync': entry(mps_gpus, TWO_MPS_WORKLOADS, {'0': 'time_slicing', '1': 'mps'}, mps=MPS_RUNNING,
                              running=True, pid=4242),
        'edge-mps-off': entry([gpu(0), gpu(1, compute_mode='exclusive_process')], TWO_MPS_WORKLOADS,
                              {'0': 'time_slicing', '1': 'mps'}, changed=True, differences=['mps'], mps=MPS_RUNNING),
        'edge-modes': entry([gpu(0), gpu(1, compute_mode='exclusive_process', persistence=False)], TWO_MPS_WORKLOADS, {'0': 'time_slicing', '1': 'mps'},
                            changed=True, differences=['GPU 1 (%s)' % UUIDS[1]], mps=MPS_RUNNING, running=True, pid=7),
        'edge-mps-left': entry([gpu(0, compute_mode='exclusive_process')], [], {'0': 'time_slicing'}, changed=True,
                               differences=['GPU 0 (%s)' % UUIDS[0], 'mps'], mps=MPS_STOPPED, running=True, pid=99),
        'edge-manifest': entry([gpu(0)], [work('camera')], changed=True, differences=['manifest']),
        'edge-error': {'reachable': True, 'error': 'MPS control daemon did not answer within 10 s',
                       'gpu_info': info([gpu(0)]), 'intent': None, 'vars': None},
        'edge-gpuless': {'reachable': True, 'error': None, 'gpu_info': info([], available=False),
                         'intent': {'changed': False, 'differences': [], 'strategies': {}, 'mps': None,
                                    'plan': {'workloads': [], 'gpus': []}, 'summary': 'strategy none'},
                         'vars': settings([], 'none')},
        'edge-gone': {'reachable': False, 'error': None, 'gpu_info': None, 'intent': None, 'vars': None},
    }


@pytest.fixture(name='report')
def report_fixture():
    return fleet_report.build(fleet(), generated='2026-11-26T12:00:00+00:00', sample_seconds=5)


def device(report, name):
    return [row for row in report['devices'] if row['name'] == name][0]


# ---- the schema and the model ------------------------------------------------------------

def _properties(schema, path='$'):
    """Every (path, property schema) in ``schema``, nested objects and array items included."""
    for name, spec in (schema.get('properties') or {}).items():
        yield '%s.%s' % (path, name), spec
        yield from _properties(spec, '%s.%s' % (path, name))
        if isinstance(spec.get('items'), dict):
            yield from _properties(spec['items'], '%s.%s[]' % (path, name))


def test_schema_is_valid_draft_2020_12_and_documents_every_property():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA['$schema'] == 'https://json-schema.org/draft/2020-12/schema'
    found = list(_properties(SCHEMA))
    assert len(found) > 80
    assert [path for path, spec in found if not spec.get('description')] == []


def test_report_validates_also_after_a_trip_through_json(report):
    VALIDATOR.validate(report)
    VALIDATOR.validate(json.loads(json.dumps(report)))
    assert report['schema_version'] == 1 and report['generated'] == '2026-11-26T12:00:00+00:00'
    assert report['sample_seconds'] == 5.0


def test_schema_refuses_what_is_not_a_report(report):
    broken = copy.deepcopy(report)
    broken['devices'][0]['drift'] = 'yes'
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)
    broken = copy.deepcopy(report)
    del broken['devices'][0]['gpus'][0]['utilization_sampled']
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)


def test_gpu_fields_are_gpu_infos_under_the_same_names(report):
    given = fleet()['edge-in-sync']['gpu_info']['gpus']
    row = device(report, 'edge-in-sync')
    assert [g['index'] for g in row['gpus']] == [0, 1]
    for mine, theirs in zip(row['gpus'], given):
        for key in ('index', 'name', 'uuid', 'pci_bus_id', 'compute_capability', 'memory', 'utilization',
                    'utilization_sampled', 'compute_mode', 'persistence_mode', 'mig_mode', 'temperature', 'power_draw',
                    'processes'):
            assert mine[key] == theirs[key], key
        assert mine['device'] == 'edge-in-sync'
    second = row['gpus'][1]
    assert second['memory'] == {'total': 15360 * MIB, 'used': 1200 * MIB, 'free': 14100 * MIB, 'reserved': 60 * MIB}
    assert second['utilization_sampled']['gpu'] == {'min': 10, 'mean': 25.5, 'max': 60}
    assert [p['type'] for p in second['processes']] == ['C', 'M+C', 'M+C']
    assert second['strategy'] == 'mps' and second['planned']['workloads'] == ['detector', 'tracker']
    assert second['planned']['percentage'] == 50.0
    assert second['headroom'] == 40.0 and row['headroom'] == 96.0 + 40.0


def test_memory_v1_and_older_processes_are_completed_with_null():
    old = gpu(0, reserved_mib=None)
    del old['memory']['reserved']
    old['processes'] = [{'pid': 5, 'name': 'x', 'used_memory': None, 'type': 'C', 'mps_server': False}]
    del old['utilization_sampled']
    report = fleet_report.build({'edge-legacy': entry([old])})
    VALIDATOR.validate(report)
    first = report['devices'][0]['gpus'][0]
    assert first['memory']['reserved'] is None and first['utilization_sampled'] is None
    assert first['processes'][0]['utilization'] is None
    # Not sampled: the headroom comes from the instant reading (7 %).
    assert first['headroom'] == 93.0


def test_intended_and_actual(report):
    row = device(report, 'edge-in-sync')
    assert row['intended'] == {'strategy': 'time_slicing', 'strategies': {'0': 'time_slicing', '1': 'mps'},
                               'platform': 'kubernetes', 'workloads': 2,
                               'mps': {'running': True, 'visible_devices': UUIDS[1],
                                       'default_active_thread_percentage': 50.0,
                                       'default_pinned_device_mem_limit': {'0': '4G'}, 'default_client_priority': 0}}
    assert row['actual'] == {'mps_daemon': {'running': True, 'pid': 4242}, 'gpus': [
        {'index': 0, 'compute_mode': 'default', 'persistence_mode': True, 'mps_server': False, 'mps_clients': 0},
        {'index': 1, 'compute_mode': 'exclusive_process', 'persistence_mode': True, 'mps_server': True,
         'mps_clients': 2}]}
    assert row['driver_version'] == '535.261.03' and row['available'] is True


def _failed_check(variables):
    """A device whose drift check failed on its role variables: an error, no intent, the variables."""
    base = entry([gpu(0), gpu(1)])
    return dict(base, error='gpu_strategies: the check failed', intent=None, vars=dict(base['vars'], **variables))


@pytest.mark.parametrize('variables, strategies', [
    # A misspelt strategy (what made the check fail) is no strategy the schema knows.
    ({'gpu_strategies': {'0': 'mpss'}}, {}),
    ({'gpu_strategies': {'7': 'mps'}}, {}),
    ({'gpu_strategies': 'mps'}, {}),
    # Keys by UUID are GPU indexes in the report, as in the module's own strategies.
    ({'gpu_strategies': {UUIDS[1]: 'mps'}}, {'1': 'mps'}),
    ({'gpu_strategies': {0: 'none', UUIDS[1]: 'mps'}}, {'0': 'none', '1': 'mps'}),
])
def test_intended_from_bad_variables_still_validates(variables, strategies):
    report = fleet_report.build({'edge-bad': _failed_check(variables)})
    VALIDATOR.validate(report)
    row = report['devices'][0]
    assert row['drift'] is True and row['intended']['strategies'] == strategies


def test_intended_variables_of_the_wrong_type_still_validate():
    report = fleet_report.build({'edge-bad': _failed_check({'strategy': 5, 'platform': ['k8s'], 'workloads': 'two'})})
    VALIDATOR.validate(report)
    intended = report['devices'][0]['intended']
    assert (intended['strategy'], intended['platform'], intended['workloads']) == ('5', "['k8s']", 0)


def test_summary(report):
    assert report['summary'] == {
        'devices': 8, 'reachable': 7, 'unreachable': ['edge-gone'], 'gpuless': ['edge-gpuless'],
        'gpus': 9,
        # edge-error has no intent: its GPU's strategy is unknown.
        'gpus_by_strategy': {'mps': 3, 'time_slicing': 5, 'unknown': 1},
        # Sampled means 1.5 and 25.5 on edge-in-sync; the instant 7 % on the other seven GPUs.
        'mean_utilization': round((1.5 + 25.5 + 7 * 7) / 9.0, 1),
        'drifted': ['edge-error', 'edge-manifest', 'edge-modes', 'edge-mps-left', 'edge-mps-off'],
        'advice': 1,
    }


# ---- drift -------------------------------------------------------------------------------

def test_drift_is_flagged_exactly_where_the_state_differs(report):
    drift = dict((row['name'], row['drift']) for row in report['devices'])
    assert drift == {'edge-error': True, 'edge-gone': None, 'edge-gpuless': False, 'edge-in-sync': False,
                     'edge-manifest': True, 'edge-modes': True, 'edge-mps-left': True, 'edge-mps-off': True}
    assert device(report, 'edge-in-sync')['drift_reasons'] == []
    assert device(report, 'edge-gpuless')['drift_reasons'] == []
    gone = device(report, 'edge-gone')
    assert gone['drift_reasons'] == [] and gone['gpus'] == [] and gone['intended'] is None and gone['actual'] is None


def test_drift_reasons_name_the_gpu_what_differs_and_both_values(report):
    assert device(report, 'edge-mps-off')['drift_reasons'] == [
        'MPS control daemon: intended running, serving GPU 1 (%s), default active thread percentage 50, pinned '
        'memory limits 0=4G; actual not running' % UUIDS[1]]
    assert device(report, 'edge-modes')['drift_reasons'] == [
        'GPU 1 (%s) (for mps): persistence mode on intended, actual off' % UUIDS[1]]
    assert device(report, 'edge-mps-left')['drift_reasons'] == [
        'GPU 0 (%s) (for time_slicing): compute mode default intended, actual exclusive_process' % UUIDS[0],
        'MPS control daemon: intended not running; actual running (pid 99)']
    assert device(report, 'edge-manifest')['drift_reasons'] == [
        'IoT Edge deployment manifest: its content or file attributes differ from the 1 planned workload(s)']
    assert device(report, 'edge-error')['drift_reasons'] == [
        'error while asking the device: MPS control daemon did not answer within 10 s']


def test_unreachable_device_ignores_what_else_its_entry_says():
    devices = fleet()
    devices['edge-gone'] = dict(devices['edge-mps-off'], reachable=False)
    row = device(fleet_report.build(devices), 'edge-gone')
    assert row['drift'] is None and row['gpus'] == [] and row['advice'] == []


# ---- advice ------------------------------------------------------------------------------

def advice_of(entry_, kind=None):
    row = fleet_report.build({'edge': entry_})['devices'][0]
    VALIDATOR.validate({'schema_version': 1, 'generated': None, 'sample_seconds': None,
                        'summary': fleet_report.build({'edge': entry_})['summary'], 'devices': [row]})
    return [item for item in row['advice'] if kind is None or item['kind'] == kind]


def test_shrink_proposes_smaller_shares_in_proportion_above_the_peak():
    # GPU 0 under MPS: 20 + 30 + 40 = 90 % of the SMs planned, but the GPU peaked at 12 %.
    # Rule: the shares shrink in proportion to peak + 20 = 32 points: 20*32/90 -> 8, 30*32/90 -> 11, 40*32/90 -> 15.
    workloads = [work('a', gpu_percentage=20), work('b', gpu_percentage=30), work('c', gpu_percentage=40)]
    advice = advice_of(entry([gpu(0, window(2, 6.0, 12))], workloads, {'0': 'mps'}, strategy='mps'), 'shrink')
    assert [(item['gpu'], item['workload']) for item in advice] == [(0, 'a'), (0, 'b'), (0, 'c')]
    assert [re.search(r'gpu_percentage (\d+) instead of (\d+)', item['message']).groups() for item in advice] == [
        ('8', '20'), ('11', '30'), ('15', '40')]
    assert 'add up to 90 % of its SMs' in advice[0]['message'] and 'peaked at 12 %' in advice[0]['message']
    assert all(item['plan'] is None for item in advice)


def test_no_shrink_when_the_shares_are_near_the_peak_or_not_mps_or_not_sampled():
    workloads = [work('a', gpu_percentage=20), work('b', gpu_percentage=30)]
    assert advice_of(entry([gpu(0, window(5, 20.0, 40))], workloads, {'0': 'mps'}, strategy='mps'), 'shrink') == []
    assert advice_of(entry([gpu(0, None)], workloads, {'0': 'mps'}, strategy='mps')) == []
    assert advice_of(entry([gpu(0, window(0, 1.0, 2))], [work('a')], {'0': 'time_slicing'}), 'shrink') == []


def idle_and_saturated(idle_gpu=None, strategies=None, workloads=None, reserved=None, oversubscribe=False):
    """GPU 0 saturated (mean 96 %) with two workloads; GPU 1 idle (peak 3 %)."""
    gpus = [gpu(0, window(88, 96.0, 100)), idle_gpu or gpu(1, window(0, 1.0, 3))]
    workloads = workloads or [work('camera', gpu=0), work('decoder', gpu=0)]
    return entry(gpus, workloads, strategies or {'0': 'time_slicing', '1': 'time_slicing'}, reserved=reserved,
                 oversubscribe=oversubscribe)


def test_move_from_a_saturated_to_an_idle_gpu_carries_a_plan_the_planner_accepts():
    device_entry = idle_and_saturated()
    [advice] = advice_of(device_entry, 'move')
    assert advice['gpu'] == 0 and advice['workload'] == 'camera'
    assert 'GPU 0 (%s) is saturated (mean 96 %%' % UUIDS[0] in advice['message']
    assert 'GPU 1 (%s) idles (peak 3 %%)' % UUIDS[1] in advice['message'] and '(gpu: 1)' in advice['message']
    plan = advice['plan']
    assert plan['change'] == {'workload': 'camera', 'gpu': 1}
    # Re-validate: the same change, planned again from the device's own inputs, gives this placement.
    changed = [dict(w, gpu=1) if w['name'] == 'camera' else w for w in device_entry['vars']['workloads']]
    again = planner.make_plan(device_entry['gpu_info']['gpus'], changed, 'time_slicing',
                              gpu_sharing={0: 'time_slicing', 1: 'time_slicing'})
    assert [(w['name'], w['gpus']) for w in plan['workloads']] == [(w['name'], w['gpus']) for w in again['workloads']]
    assert [(w['name'], w['gpus']) for w in plan['workloads']] == [('camera', [1]), ('decoder', [0])]
    assert [(g['index'], g['workloads']) for g in plan['gpus']] == [(0, ['decoder']), (1, ['camera'])]


def test_move_skips_a_workload_the_idle_gpu_cannot_take_and_moves_the_next():
    # GPU 0 is MPS (oversubscribed), GPU 1 time-sliced: the MPS share of 'tracker' cannot go to GPU 1;
    # 'camera' (no share) can.
    workloads = [work('tracker', gpu_percentage=60, gpu=0), work('camera', gpu=0)]
    device_entry = idle_and_saturated(strategies={'0': 'mps', '1': 'time_slicing'}, workloads=workloads,
                                      oversubscribe=True)
    [advice] = advice_of(device_entry, 'move')
    assert advice['workload'] == 'camera' and advice['plan']['change'] == {'workload': 'camera', 'gpu': 1}
    changed = [dict(w, gpu=1) if w['name'] == 'camera' else w for w in workloads]
    again = planner.make_plan(device_entry['gpu_info']['gpus'], changed, 'time_slicing',
                              gpu_sharing={0: 'mps', 1: 'time_slicing'}, oversubscribe=True)
    assert [w['gpus'] for w in again['workloads']] == [w['gpus'] for w in advice['plan']['workloads']] == [[0], [1]]
    with pytest.raises(InvalidOption):
        planner.make_plan(device_entry['gpu_info']['gpus'], [dict(workloads[0], gpu=1), workloads[1]], 'time_slicing',
                          gpu_sharing={0: 'mps', 1: 'time_slicing'}, oversubscribe=True)


def test_two_saturated_gpus_are_never_both_sent_to_one_idle_gpu():
    # Unshared GPUs take one workload each: moving both 'a' and 'b' to GPU 2 is no valid plan,
    # though the planner accepts each move alone.
    gpus = [gpu(0, window(90, 97.0, 100)), gpu(1, window(88, 95.0, 100)), gpu(2, window(0, 1.0, 2))]
    workloads = [work('a', gpu=0), work('b', gpu=1)]
    device_entry = entry(gpus, workloads, {'0': 'none', '1': 'none', '2': 'none'}, strategy='none')
    with pytest.raises(InvalidOption):
        planner.make_plan(gpus, [dict(w, gpu=2) for w in workloads], 'none')
    [advice] = advice_of(device_entry, 'move')
    assert advice['plan']['change'] == {'workload': 'a', 'gpu': 2}
    # Once 'a' goes there, GPU 2 has no room to offer either.
    assert advice_of(device_entry, 'room') == []


@pytest.mark.parametrize('case', ['reserved', 'mig', 'busy', 'unshared_taken', 'no_sample'])
def test_no_move_where_no_idle_gpu_can_take_a_workload(case):
    strategies, reserved, idle = None, None, None
    workloads = [work('camera', gpu=0), work('decoder', gpu=0)]
    if case == 'reserved':
        strategies, reserved = {'0': 'time_slicing', '1': 'none'}, [1]
    elif case == 'mig':
        idle = gpu(1, window(0, 0.0, 0), mig=True)
        strategies = {'0': 'time_slicing', '1': 'none'}
    elif case == 'busy':
        idle = gpu(1, window(5, 12.0, 30))
    elif case == 'unshared_taken':
        strategies = {'0': 'time_slicing', '1': 'none'}
        workloads.append(work('logger', gpu=1))
    else:
        idle = gpu(1, None)
    device_entry = idle_and_saturated(idle, strategies, workloads, reserved)
    assert advice_of(device_entry, 'move') == []


def test_room_on_usable_gpus_with_headroom_and_spare_plan_capacity():
    gpus = [gpu(0, window(0, 5.0, 20)), gpu(1, window(0, 5.0, 20)), gpu(2, window(0, 5.0, 20))]
    workloads = [work('a', gpu_percentage=95, gpu=1)]
    advice = advice_of(entry(gpus, workloads, {'0': 'time_slicing', '1': 'mps', '2': 'mps'}), 'room')
    # GPU 1 has 95 % of its SMs planned: no room; GPUs 0 (time-sliced) and 2 (MPS, nothing planned) have.
    assert [item['gpu'] for item in advice] == [0, 2]
    assert 'time-sliced with 0 workload(s)' in advice[0]['message']
    assert 'MPS with 0 % of its SMs planned (0 client(s))' in advice[1]['message']
    busy = [gpu(0, window(40, 70.0, 90))]
    assert advice_of(entry(busy, [], {'0': 'time_slicing'}), 'room') == []


def test_the_fleet_fixture_gets_room_on_its_idle_time_sliced_gpu(report):
    assert [(row['name'], item['kind'], item['gpu']) for row in report['devices'] for item in row['advice']] == [
        ('edge-in-sync', 'room', 0)]


# ---- renderers ---------------------------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.stack, self.gpu_rows, self.scripts, self.tags, self.attrs = [], 0, 0, set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.attrs.extend(value or '' for value in attrs.values())
        if tag == 'tr' and 'gpu' in (attrs.get('class') or '').split():
            parents = [(t, a.get('id')) for t, a in self.stack]
            assert ('table', 'gpus') in parents and parents[-1][0] == 'tbody'
            self.gpu_rows += 1
        if tag == 'script':
            self.scripts += 1
            assert 'src' not in attrs
        if tag not in ('meta', 'link', 'br', 'input', 'img'):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def parse(page):
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def test_html_has_one_gpu_row_per_gpu_and_no_url(report):
    page = render_html(report)
    parsed = parse(page)
    assert parsed.gpu_rows == report['summary']['gpus'] == 9
    assert parsed.scripts == 1 and 'svg' in parsed.tags and 'img' not in parsed.tags
    assert 'http:' not in page and 'https:' not in page and '//' not in page
    assert all(not value.startswith(('http', '//')) for value in parsed.attrs)
    assert 'default-src \'none\'' in page
    for header in ('data-col="util"', 'data-col="memory"', 'data-col="reserved"', 'data-col="compute_mode"',
                   'data-col="mps"', 'data-col="processes"'):
        assert header in page


def test_html_shows_the_summary_processes_and_daemon(report):
    page = render_html(report)
    assert '<small>Devices</small><b>8</b>' in page and '<small>GPUs</small><b>9</b>' in page
    assert 'mps 3, time_slicing 5, unknown 1' in page
    assert 'M+C /usr/bin/python3 1184 MiB' in page and 'C nvidia-cuda-mps-server 32 MiB' in page
    assert 'running (pid 4242)<span class="p">defaults: threads 50 %; pinned 0=4G</span>' in page
    assert 'M+C /usr/bin/python3 1184 MiB, SM 12.5 %' in page
    # edge-mps-off: the daemon should run and does not; the defaults shown are the intended ones.
    assert ('not running<span class="p">intended: running</span><span class="p">defaults (intended): threads 50 %'
            in page)
    # edge-mps-left: a daemon runs that should not.
    assert 'running (pid 99)<span class="p">intended: stopped</span>' in page
    assert '10/25.5/60' in page


def test_html_escapes_every_string_from_devices():
    hostile = '<script>alert("x")</script>&'
    devices = fleet()
    bad = devices['edge-in-sync']
    bad['gpu_info']['gpus'][1]['name'] = hostile
    bad['gpu_info']['gpus'][1]['processes'][1]['name'] = hostile
    bad['gpu_info']['driver_version'] = hostile
    bad['intent']['mps']['default_pinned_device_mem_limit'] = {'0': hostile}
    devices[hostile] = devices.pop('edge-error')
    devices[hostile]['error'] = hostile
    report = fleet_report.build(devices)
    page = render_html(report)
    assert hostile not in page and '<script>alert' not in page
    assert page.count('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;') >= 5
    assert parse(page).scripts == 1


def test_html_of_an_empty_fleet_and_of_unsampled_gpus():
    page = render_html(fleet_report.build({}))
    assert parse(page).gpu_rows == 0 and '<small>Devices</small><b>0</b>' in page
    page = render_html(fleet_report.build({'edge': entry([gpu(0, None, reserved_mib=None)])}))
    assert parse(page).gpu_rows == 1 and 'now 7' in page


def test_html_of_500_devices_with_two_gpus_stays_under_2_mb():
    one = fleet()['edge-in-sync']
    report = fleet_report.build(dict(('edge-%03d' % number, one) for number in range(500)))
    page = render_html(report)
    assert parse(page).gpu_rows == 1000
    assert len(page.encode('utf-8')) < 2 * 1000 * 1000


def test_csv_parses_header_first_one_row_per_gpu(report):
    rows = list(csv.reader(io.StringIO(fleet_report.render_csv(report))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ['device', 'reachable', 'drift', 'index'] and len(body) == 9
    assert all(len(row) == len(header) for row in body)
    named = [dict(zip(header, row)) for row in body]
    second = [row for row in named if row['device'] == 'edge-in-sync' and row['index'] == '1'][0]
    assert second['uuid'] == UUIDS[1] and second['strategy'] == 'mps' and second['drift'] == 'false'
    assert second['memory_total'] == str(15360 * MIB) and second['memory_reserved'] == str(60 * MIB)
    assert (second['gpu_min'], second['gpu_mean'], second['gpu_max']) == ('10', '25.5', '60')
    assert second['processes'] == '3' and second['mps_clients'] == '2' and second['process_memory'] == str(2400 * MIB)
    mps_off = [row for row in named if row['device'] == 'edge-mps-off'][0]
    assert mps_off['drift'] == 'true' and mps_off['samples'] == '' and mps_off['gpu_mean'] == ''


def test_csv_leaves_process_names_out():
    devices = fleet()
    devices['edge-in-sync']['gpu_info']['gpus'][1]['processes'][1]['name'] = '=HYPERLINK("x")'
    assert 'HYPERLINK' not in fleet_report.render_csv(fleet_report.build(devices))


@pytest.mark.parametrize('hostile', ['=HYPERLINK("x")', '+1+cmd', '-2+3', '@SUM(A1)', '\t=1', '\r=1'])
def test_csv_never_starts_a_device_string_as_a_formula(hostile):
    # The GPU name and the PCI bus id are whatever the device answers; the host name is the inventory's.
    devices = {hostile: fleet()['edge-manifest']}
    devices[hostile]['gpu_info']['gpus'][0]['name'] = hostile
    devices[hostile]['gpu_info']['gpus'][0]['pci_bus_id'] = hostile
    rows = list(csv.DictReader(io.StringIO(fleet_report.render_csv(fleet_report.build(devices)))))
    assert [(row['device'], row['name'], row['pci_bus_id']) for row in rows] == [("'" + hostile,) * 3]
    assert rows[0]['uuid'] == UUIDS[0] and rows[0]['index'] == '0'


def test_text_summary(report):
    lines = fleet_report.render_text(report)
    assert lines[0] == '8 device(s), 7 reached, 9 GPU(s) (mps 3, time_slicing 5, unknown 1), mean utilization %s %%' % (
        report['summary']['mean_utilization'])
    assert 'unreachable: edge-gone' in lines and 'without a GPU or usable NVML: edge-gpuless' in lines
    assert '5 device(s) out of their intended state:' in lines
    assert any(line.startswith('  edge-modes: GPU 1 (') for line in lines)
    assert 'advice: 1 room' in lines
    assert fleet_report.render_text(fleet_report.build({}))[-1] == 'no device is out of its intended state'


def test_text_summary_is_short_for_a_large_drifted_fleet():
    one = fleet()['edge-mps-off']
    lines = fleet_report.render_text(fleet_report.build(dict(('edge-%03d' % n, one) for n in range(50))))
    assert len(lines) <= 15 and '  ... and 40 more (see report.json)' in lines


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize('devices, named', [
    (['edge-01'], "['edge-01'] is not a dictionary"),
    ({'edge-01': 'down'}, "device edge-01: 'down' is not a device entry"),
    ({'edge-01': {'reachable': 'yes'}}, "device edge-01: reachable must be true or false, got 'yes'"),
    ({'edge-01': {'reachable': True, 'hostvars': {}}}, 'device edge-01: unknown keys hostvars'),
    ({'edge-01': {'reachable': True, 'error': 3}}, 'device edge-01: error must be a message or null, got 3'),
    ({'edge-01': {'reachable': True, 'gpu_info': {'gpus': []}}}, 'device edge-01: gpu_info: '),
    ({'edge-01': {'reachable': True, 'intent': {'changed': 'no'}}}, "intent.changed must be true or false, got 'no'"),
    ({'edge-01': {'reachable': True, 'intent': {'changed': True, 'differences': 'mps'}}}, 'intent.differences must be'),
    ({'edge-01': {'reachable': True, 'vars': ['strategy']}}, 'device edge-01: vars must be a dictionary'),
    ({5: {'reachable': True}}, '5 is not an inventory host name'),
])
def test_bad_entries_are_refused_naming_the_device_and_value(devices, named):
    with pytest.raises(InvalidOption) as raised:
        fleet_report.build(devices)
    assert str(raised.value).startswith('fleet_report: ') and named in str(raised.value)


@pytest.mark.parametrize('options, named', [
    ({'sample_seconds': -1}, 'fleet_report: sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got -1'),
    ({'sample_seconds': 'five'}, "got 'five'"), ({'sample_seconds': True}, 'got True'),
    ({'sample_seconds': 7200}, 'got 7200'),
    ({'generated': 20261126}, 'generated must be a time stamp (a string) or null, got 20261126'),
])
def test_bad_options_are_refused(options, named):
    with pytest.raises(InvalidOption) as raised:
        fleet_report.build({}, **options)
    assert named in str(raised.value)


def test_sample_seconds_from_extra_vars_is_a_number():
    assert fleet_report.build({}, sample_seconds='5')['sample_seconds'] == 5.0


@pytest.mark.parametrize('value', [None, {}, {'schema_version': 2, 'devices': [], 'summary': {}}, 'report'])
def test_renderers_refuse_what_is_not_a_report(value):
    for render, option in ((fleet_report.render_csv, 'fleet_report_files'),
                           (fleet_report.render_text, 'fleet_report_text')):
        with pytest.raises(InvalidOption) as raised:
            render(value)
        assert str(raised.value).startswith(option + ': ') and 'is not a report from edge_gpu.sharing.fleet_report' in str(
            raised.value)
