# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bad-input matrix: every module, role, filter and playbook given what a hostile or careless
operator gives, on one simulated two-T4 device with NVIDIA's real MPS control daemon running.

Each case must fail (no traceback, no hang), with a message that names the option and the bad
value, and leave the device as it was: the fake NVML state file byte for byte, the daemon's pid
and defaults as NVIDIA's own control program reads them back, and every file under the device's
directories (content, mode, owner; no temporary files left).

One ansible-playbook run per family (modules, roles, filters): each case is a host of a written
inventory, so the cases of a family run side by side and a case's variables cannot leak into
another's. The playbooks' cases are one run each, with the bad value as ``-e``.
``python tests/integration/test_bad_input_matrix.py`` prints the number of cases per target.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'sim'))
sys.path.insert(0, HERE)

import fleet  # noqa: E402  pylint: disable=import-error,wrong-import-position
from harness import MPS_CONTROL, NVIDIA_ROOT, mps_daemons_under, mps_query  # noqa: E402  pylint: disable=import-error,wrong-import-position

BIN = os.path.dirname(sys.executable)
PLAYBOOKS = os.path.join(HERE, 'playbooks', 'bad_input')
# A run that hangs fails the test instead of stalling the suite.
RUN_TIMEOUT = 300
DEVICE = 't4_dual'
GPUS = fleet.load_device(DEVICE)['gpus']
GPU1 = GPUS[1]['uuid']
# The GPUs as gpu_info returns them, as far as the planner reads them.
PLAN_GPUS = [{'index': index, 'uuid': gpu['uuid'], 'name': gpu['name'], 'mig_mode': None,
              'compute_capability': '7.5', 'memory': {'total': 16 * 1024 ** 3}} for index, gpu in enumerate(GPUS)]
WORKLOAD = {'name': 'detector', 'image': 'registry.local/detector:1.4'}
X4 = {'strategy': 'time_slicing', 'replicas': 4}
NAN, INF = float('nan'), float('inf')
HUGE = 10 ** 30


class Unsafe(str):
    """A string Ansible must not template (written as ``!unsafe``): ``{{ }}`` arrives as typed."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Unsafe, lambda dumper, data: dumper.represent_scalar('!unsafe', str(data)))


def _text(value):
    if isinstance(value, float):
        return repr(value)
    return str(value)


def case(target, name, args, option, value=None, expect=None):
    """One bad case: ``args`` given to ``target``; the message must hold ``expect`` (by default the
    option's name and the bad value as typed)."""
    if expect is None:
        expect = [option] + ([] if value is None else [_text(value)])
    return {'target': target, 'name': name, 'args': args, 'expect': list(expect)}


# ---- modules -----------------------------------------------------------------------------

def module_cases(pipe, log, dest):
    """``pipe``, ``log``: the running daemon's directories; ``dest``: where manifests already lie."""
    mps = dict(pipe_directory=pipe, log_directory=log, gpus=[1])
    # Valid changes ride along with each bad value: a case that is silently accepted changes the
    # daemon (50 -> 30) and fails the "device unchanged" check too.
    mps_change = dict(mps, default_active_thread_percentage=30)
    plan = dict(gpus=PLAN_GPUS, workloads=[WORKLOAD])
    mps_plan = dict(plan, sharing='mps')
    k8s_dest = os.path.join(dest, 'k8s')
    edge_dest = os.path.join(dest, 'edge', 'deployment.json')
    plugin_dest = os.path.join(dest, 'plugin', 'config.yaml')
    sharing = dict(strategy='mps', platform='iotedge', workloads=[WORKLOAD], mps_pipe_directory=pipe,
                   mps_log_directory=log, iotedge_dest=edge_dest)

    def workload(**keys):
        return dict(plan, workloads=[dict(WORKLOAD, **keys)], dest=k8s_dest)

    def profiles(**keys):
        return dict({'profiles': {'x4': X4}, 'dest': plugin_dest}, **keys)

    def sliced(**keys):
        return dict({'strategy': 'time_slicing', 'replicas': 2, 'dest': plugin_dest}, **keys)

    cases = [
        # gpu_info
        case('gpu_info', 'unknown UUID', {'gpus': 'GPU-zzz'}, 'gpus', 'GPU-zzz'),
        case('gpu_info', 'negative index', {'gpus': -1}, 'gpus', -1),
        case('gpu_info', 'index of no GPU', {'gpus': 7}, 'gpus', 7),
        case('gpu_info', 'two GPUs as one string', {'gpus': '0,1'}, 'gpus', '0,1'),
        case('gpu_info', 'empty list', {'gpus': []}, 'gpus', expect=['gpus', 'empty']),
        case('gpu_info', 'relative pipe directory', {'mps_pipe_directory': 'a/b'}, 'mps_pipe_directory', 'a/b'),
        case('gpu_info', 'pipe directory with ..', {'mps_pipe_directory': '/x/../y'}, 'mps_pipe_directory', '/x/../y'),
        case('gpu_info', 'boolean from a survey', {'processes': 'maybe'}, 'processes', 'maybe'),
        case('gpu_info', 'unknown choice', {'missing': 'ignore'}, 'missing', 'ignore'),
        case('gpu_info', 'window as words', {'sample_seconds': 'soon'}, 'sample_seconds', 'soon'),
        case('gpu_info', 'negative window', {'sample_seconds': -1}, 'sample_seconds', -1),
        case('gpu_info', 'interval longer than the window', {'sample_seconds': 1, 'sample_interval': 5},
             'sample_interval', expect=['sample_interval (5)', 'sample_seconds (1)']),
        # gpu_mode
        case('gpu_mode', 'misspelt choice', {'gpus': [1], 'compute_mode': 'exclusive'}, 'compute_mode', 'exclusive'),
        case('gpu_mode', 'percentage as a boolean', {'gpus': [1], 'persistence_mode': '20%'}, 'persistence_mode', '20%'),
        case('gpu_mode', 'unknown UUID', {'gpus': ['GPU-zzz'], 'compute_mode': 'exclusive_process'}, 'gpus', 'GPU-zzz'),
        case('gpu_mode', 'index of no GPU', {'gpus': [7], 'compute_mode': 'exclusive_process'}, 'gpus', 7),
        case('gpu_mode', 'empty list', {'gpus': [], 'compute_mode': 'exclusive_process'}, 'gpus', expect=['gpus', 'empty']),
        case('gpu_mode', 'boolean as a selector', {'gpus': [True], 'compute_mode': 'exclusive_process'}, 'gpus', True),
        case('gpu_mode', 'misspelt option', {'gpus': [1], 'compute': 'exclusive_process'}, 'compute'),
        # mps
        case('mps', 'relative pipe directory', dict(mps_change, pipe_directory='a/b'), 'pipe_directory', 'a/b'),
        case('mps', 'pipe directory with ..', dict(mps_change, pipe_directory=pipe + '/../pipe'), 'pipe_directory',
             pipe + '/../pipe'),
        case('mps', 'pipe directory with //', dict(mps_change, pipe_directory='/' + pipe), 'pipe_directory', '/' + pipe),
        case('mps', 'pipe directory with a trailing /', dict(mps_change, pipe_directory=pipe + '/'), 'pipe_directory',
             pipe + '/'),
        case('mps', 'pipe directory with a newline', dict(mps_change, pipe_directory=pipe + '\nx'), 'pipe_directory',
             expect=['pipe_directory', repr(pipe + '\nx')]),
        case('mps', 'pipe directory with a space', dict(mps_change, pipe_directory=pipe + ' x'), 'pipe_directory',
             pipe + ' x'),
        case('mps', 'pipe directory too long for a socket', dict(mps_change, pipe_directory='/' + 'p' * 100),
             'pipe_directory', '/' + 'p' * 100),
        case('mps', 'relative log directory', dict(mps_change, log_directory='log'), 'log_directory', 'log'),
        case('mps', 'log directory with a colon', dict(mps_change, log_directory=log + ':/x'), 'log_directory', log + ':/x'),
        case('mps', 'percentage nan', dict(mps, default_active_thread_percentage=NAN), 'default_active_thread_percentage', NAN),
        case('mps', 'percentage inf', dict(mps, default_active_thread_percentage=INF), 'default_active_thread_percentage', INF),
        case('mps', 'percentage -1', dict(mps, default_active_thread_percentage=-1), 'default_active_thread_percentage', -1),
        case('mps', 'percentage 101', dict(mps, default_active_thread_percentage=101), 'default_active_thread_percentage', 101),
        case('mps', 'percentage 10**30', dict(mps, default_active_thread_percentage=HUGE), 'default_active_thread_percentage', HUGE),
        case('mps', "percentage '20%'", dict(mps, default_active_thread_percentage='20%'), 'default_active_thread_percentage', '20%'),
        case('mps', 'percentage 0', dict(mps, default_active_thread_percentage=0), 'default_active_thread_percentage', 0),
        case('mps', "memory '1X'", dict(mps, default_pinned_device_mem_limit={'0': '1X'}), 'default_pinned_device_mem_limit', '1X'),
        case('mps', "memory '-5G'", dict(mps, default_pinned_device_mem_limit={'0': '-5G'}), 'default_pinned_device_mem_limit', '-5G'),
        case('mps', "memory '0'", dict(mps, default_pinned_device_mem_limit={'0': '0'}), 'default_pinned_device_mem_limit', "'0'"),
        case('mps', "memory '1.5.5G'", dict(mps, default_pinned_device_mem_limit={'0': '1.5.5G'}), 'default_pinned_device_mem_limit', '1.5.5G'),
        case('mps', 'memory as an integer', dict(mps, default_pinned_device_mem_limit={'0': 2048}), 'default_pinned_device_mem_limit', 2048),
        case('mps', 'memory for a device the daemon does not serve', dict(mps, default_pinned_device_mem_limit={'1': '2G'}),
             'default_pinned_device_mem_limit', expect=['default_pinned_device_mem_limit', '1']),
        case('mps', 'memory for a device ordinal of every GPU', dict(mps, gpus='all', default_pinned_device_mem_limit={'7': '2G'}),
             'default_pinned_device_mem_limit', expect=['default_pinned_device_mem_limit', '7']),
        case('mps', 'memory keyed by UUID', dict(mps, default_pinned_device_mem_limit={GPU1: '2G'}), 'default_pinned_device_mem_limit', GPU1),
        case('mps', 'client priority 2', dict(mps, default_client_priority=2), 'default_client_priority', 2),
        case('mps', 'timeout 0', dict(mps_change, timeout=0), 'timeout', 0),
        case('mps', 'timeout 10**30', dict(mps_change, timeout=HUGE), 'timeout', HUGE),
        case('mps', 'unknown UUID', dict(mps_change, gpus='GPU-zzz'), 'gpus', 'GPU-zzz'),
        case('mps', 'index of no GPU', dict(mps_change, gpus=[7]), 'gpus', 7),
        case('mps', 'empty GPU list', dict(mps_change, gpus=[]), 'gpus', expect=['gpus', 'empty']),
        case('mps', 'misspelt state', dict(mps_change, state='start'), 'state', 'start'),
        case('mps', 'shell in the control binary', dict(mps_change, control_binary='nvidia-cuda-mps-control;rm -rf /'),
             'control_binary', 'nvidia-cuda-mps-control;rm -rf /'),
        # device_plugin_config
        case('device_plugin_config', 'misspelt strategy', {'strategy': 'mpss', 'replicas': 2, 'dest': plugin_dest}, 'strategy', 'mpss'),
        case('device_plugin_config', 'replicas -1', {'strategy': 'time_slicing', 'replicas': -1, 'dest': plugin_dest}, 'replicas', -1),
        case('device_plugin_config', 'replicas 1', {'strategy': 'time_slicing', 'replicas': 1, 'dest': plugin_dest}, 'replicas', 1),
        case('device_plugin_config', "replicas '20%'", {'strategy': 'time_slicing', 'replicas': '20%', 'dest': plugin_dest}, 'replicas', '20%'),
        case('device_plugin_config', 'relative dest', {'strategy': 'time_slicing', 'replicas': 2, 'dest': 'plugin/config.yaml'},
             'dest', 'plugin/config.yaml'),
        case('device_plugin_config', 'dest with ..', {'strategy': 'time_slicing', 'replicas': 2, 'dest': dest + '/x/../plugin/config.yaml'},
             'dest', dest + '/x/../plugin/config.yaml'),
        case('device_plugin_config', 'namespace with capitals', profiles(namespace='GPU Operator'), 'namespace', 'GPU Operator'),
        case('device_plugin_config', 'shell in the ConfigMap name', profiles(configmap_name='a;rm -rf /'),
             'configmap_name', 'a;rm -rf /'),
        case('device_plugin_config', 'default profile that does not exist', profiles(default_profile='x8'), 'default_profile', 'x8'),
        case('device_plugin_config', 'profile name with YAML', profiles(profiles={'"x": y': X4}), 'profiles', '"x": y'),
        case('device_plugin_config', 'renamed resource with a space',
             sliced(resources=[{'name': 'nvidia.com/gpu', 'rename': 'gpu shared'}]), 'rename', 'gpu shared'),
        case('device_plugin_config', 'misspelt MIG strategy', sliced(mig_strategy='double'), 'mig_strategy', 'double'),
        # k8s_gpu_workload
        case('k8s_gpu_workload', 'shell in a name', workload(name='a;rm -rf /'), 'name', 'a;rm -rf /'),
        case('k8s_gpu_workload', 'YAML in a name', workload(name='"x": y'), 'name', '"x": y'),
        case('k8s_gpu_workload', 'newline in a name', workload(name='a\nb'), 'name', expect=['name', repr('a\nb')]),
        case('k8s_gpu_workload', 'Jinja in a name', workload(name=Unsafe('{{ lookup("env", "HOME") }}')), 'name',
             '{{ lookup("env", "HOME") }}'),
        case('k8s_gpu_workload', 'image with a space', workload(image='registry.local/detector:1.4 latest'), 'image',
             'registry.local/detector:1.4 latest'),
        case('k8s_gpu_workload', "percentage '20%'", dict(workload(gpu_percentage='20%'), sharing='mps'), 'gpu_percentage', '20%'),
        case('k8s_gpu_workload', 'percentage without MPS', workload(gpu_percentage=20), 'gpu_percentage', 20),
        case('k8s_gpu_workload', "memory '1.5.5G'", dict(workload(gpu_memory='1.5.5G'), sharing='mps'), 'gpu_memory', '1.5.5G'),
        case('k8s_gpu_workload', 'unknown GPU', workload(gpu='GPU-zzz'), 'gpu', 'GPU-zzz'),
        case('k8s_gpu_workload', 'GPU of no index', workload(gpu=7), 'gpu', 7),
        case('k8s_gpu_workload', "allocation 'claims'", dict(workload(), allocation='claims'), 'allocation', 'claims'),
        case('k8s_gpu_workload', 'label value with a space', dict(workload(), labels={'app': 'my app'}), 'labels', 'my app'),
        case('k8s_gpu_workload', 'label value as an integer', dict(workload(), labels={'tier': 5}), 'labels', 5),
        case('k8s_gpu_workload', 'node selector key with a space', workload(node_selector={'gpu type': 't4'}), 'node_selector', 'gpu type'),
        case('k8s_gpu_workload', 'namespace with capitals', dict(workload(), namespace='Default'), 'namespace', 'Default'),
        case('k8s_gpu_workload', 'relative dest', dict(workload(), dest='k8s'), 'dest', 'k8s'),
        case('k8s_gpu_workload', 'empty workloads', dict(plan, workloads=[], dest=k8s_dest), 'workloads', expect=['workloads', 'empty']),
        case('k8s_gpu_workload', 'variable the plan sets', workload(env={'CUDA_VISIBLE_DEVICES': '1'}), 'env', 'CUDA_VISIBLE_DEVICES'),
        case('k8s_gpu_workload', 'unknown reserved GPU', dict(workload(), reserved_gpus=['GPU-zzz']), 'reserved_gpus', 'GPU-zzz'),
        case('k8s_gpu_workload', "oversubscribe 'maybe'", dict(workload(), oversubscribe='maybe'), 'oversubscribe', 'maybe'),
        case('k8s_gpu_workload', 'negative backoff limit', dict(workload(backoff_limit=-1), kind='Job'), 'backoff_limit', -1),
        # iotedge_manifest
        case('iotedge_manifest', 'relative dest', dict(plan, dest='deployment.json'), 'dest', 'deployment.json'),
        case('iotedge_manifest', 'dest with a trailing /', dict(plan, dest=os.path.dirname(edge_dest) + '/'), 'dest',
             os.path.dirname(edge_dest) + '/'),
        case('iotedge_manifest', 'negative TTL', dict(plan, dest=edge_dest, store_and_forward_ttl=-1), 'store_and_forward_ttl', -1),
        case('iotedge_manifest', 'misspelt restart policy', dict(plan, dest=edge_dest, restart_policy='sometimes'), 'restart_policy',
             'sometimes'),
        case('iotedge_manifest', 'agent image with a space', dict(plan, dest=edge_dest, edge_agent_image='mcr.microsoft.com/agent:1.5 x'),
             'edge_agent_image', 'mcr.microsoft.com/agent:1.5 x'),
        case('iotedge_manifest', 'credentials without a password', dict(plan, dest=edge_dest, registry_credentials={
            'reg': {'address': 'registry.local', 'username': 'u'}}), 'registry_credentials', expect=['registry_credentials', 'reg']),
        case('iotedge_manifest', 'route as an integer', dict(plan, dest=edge_dest, routes={'up': 5}), 'routes', 5),
        case('iotedge_manifest', 'pipe directory with ..', dict(mps_plan, dest=edge_dest, mps_pipe_directory='/x/../y'),
             'mps_pipe_directory', '/x/../y'),
        case('iotedge_manifest', 'Kubernetes setting on IoT Edge', dict(plan, dest=edge_dest, workloads=[dict(WORKLOAD, host_pid='20')]),
             'host_pid', '20'),
        # gpu_sharing
        case('gpu_sharing', 'misspelt strategy', dict(sharing, strategy='mpss'), 'strategy', 'mpss'),
        case('gpu_sharing', 'strategy for a GPU of no index', dict(sharing, gpu_strategies={'7': 'mps'}), 'gpu_strategies', 7),
        case('gpu_sharing', 'strategy in capitals', dict(sharing, gpu_strategies={'1': 'MPS'}), 'gpu_strategies', 'MPS'),
        case('gpu_sharing', "percentage '20%'", dict(sharing, mps_default_active_thread_percentage='20%'),
             'mps_default_active_thread_percentage', '20%'),
        case('gpu_sharing', "memory '-5G'", dict(sharing, mps_pinned_device_mem_limit='-5G'), 'mps_pinned_device_mem_limit', '-5G'),
        case('gpu_sharing', 'two memory limits for one GPU', dict(sharing, mps_pinned_device_mem_limit={'1': '2G', GPU1: '4G'}),
             'mps_pinned_device_mem_limit', expect=['mps_pinned_device_mem_limit', '2G', '4G']),
        case('gpu_sharing', 'relative pipe directory', dict(sharing, mps_pipe_directory='pipe'), 'mps_pipe_directory', 'pipe'),
        case('gpu_sharing', 'log directory with ..', dict(sharing, mps_log_directory='/x/../y'), 'mps_log_directory', '/x/../y'),
        case('gpu_sharing', 'dest with //', dict(sharing, iotedge_dest='/' + edge_dest), 'iotedge_dest', '/' + edge_dest),
        case('gpu_sharing', 'replicas 1', dict(sharing, strategy='time_slicing', platform='kubernetes', replicas=1), 'replicas', 1),
        case('gpu_sharing', 'reserved GPU of no index', dict(sharing, reserved_gpus=[7]), 'reserved_gpus', 7),
        case('gpu_sharing', 'timeout 0', dict(sharing, mps_timeout=0), 'mps_timeout', 0),
        case('gpu_sharing', "force 'maybe'", dict(sharing, force='maybe'), 'force', 'maybe'),
        case('gpu_sharing', 'image with a space', dict(sharing, workloads=[dict(WORKLOAD, image='a b')]), 'image', 'a b'),
        # With dra the module stops a host daemon: a refused request must leave the running one alone.
        case('gpu_sharing', 'dra with a host MPS default',
             dict(sharing, platform='kubernetes', allocation='dra', mps_default_active_thread_percentage=50),
             'mps_default_active_thread_percentage', 50),
    ]
    return cases


# ---- filters -----------------------------------------------------------------------------

def filter_cases():
    def plan(name, option, value, expect=None, gpus=None, workloads=None, **kwargs):
        return case('gpu_plan', name, {'input': PLAN_GPUS if gpus is None else gpus,
                                       'workloads': [WORKLOAD] if workloads is None else workloads, 'kwargs': kwargs},
                    option, value, expect)

    return [
        plan("oversubscribe 'maybe'", 'oversubscribe', 'maybe', oversubscribe='maybe'),
        plan('reserved GPUs as one string', 'reserved_gpus', '0,1', reserved_gpus='0,1'),
        plan('reserved GPU of no index', 'reserved_gpus', 7, reserved_gpus=[7]),
        plan('misspelt sharing', 'sharing', 'mpss', sharing='mpss'),
        plan('misspelt device_ids', 'device_ids', 'serial', device_ids='serial'),
        plan('relative pipe directory', 'mps_pipe_directory', 'a/b', sharing='mps', mps_pipe_directory='a/b'),
        plan('GPUs as a string', 'gpus', 'GPU-zzz', gpus='GPU-zzz'),
        plan('workload name with shell', 'name', 'a;rm -rf /', workloads=[dict(WORKLOAD, name='a;rm -rf /')]),
        plan('GPU strategy for a GPU of no index', 'gpu_sharing', 7, gpu_sharing={7: 'mps'}),
        plan('percentage inf', 'gpu_percentage', INF, sharing='mps', workloads=[dict(WORKLOAD, gpu_percentage=INF)]),
        case('gpu_summary', 'a string', {'input': 'GPU 0'}, 'gpu_summary', 'GPU 0'),
        case('gpu_summary', 'a dictionary that is no gpu_info result', {'input': {'gpus': 2}}, 'gpu_summary',
             expect=['gpu_summary', 'available']),
        case('gpu_summary', 'available without GPUs', {'input': {'available': True}}, 'gpu_summary', expect=['gpu_summary', 'gpus']),
        case('gpu_fleet_summary', 'a list', {'input': ['edge-01']}, 'gpu_fleet_summary', 'edge-01'),
        case('gpu_fleet_summary', 'a host whose result is a string', {'input': {'edge-01': 'down'}}, 'gpu_fleet_summary',
             expect=['gpu_fleet_summary', 'edge-01', 'down']),
        case('fleet_report', 'a list of hosts', {'input': ['edge-01']}, 'fleet_report', 'edge-01'),
        case('fleet_report', 'reachable as a word', {'input': {'edge-01': {'reachable': 'maybe'}}}, 'reachable', 'maybe',
             expect=['fleet_report', 'edge-01', 'reachable', 'maybe']),
        case('fleet_report', 'negative sample_seconds', {'input': {}, 'kwargs': {'sample_seconds': -5}},
             'sample_seconds', -5),
        case('fleet_report_files', 'a dictionary that is no report', {'input': {'devices': 'all'}},
             'fleet_report_files', expect=['fleet_report_files', 'is not a report']),
        case('fleet_report_text', 'a string', {'input': 'report'}, 'fleet_report_text', 'report'),
    ]


# ---- roles -------------------------------------------------------------------------------

def role_base(pipe, log, dest):
    """What each role is asked for when nothing is wrong (a case changes or adds one variable)."""
    return {
        'mps': {'mps_enabled': True, 'mps_gpus': [1], 'mps_default_active_thread_percentage': 30,
                'mps_service_manager': 'none', 'mps_systemd_unit_directory': os.path.join(dest, 'systemd'),
                'mps_environment_file': os.path.join(dest, 'default', 'nvidia-mps')},
        'k8s_gpu_sharing': {'k8s_gpu_sharing_profiles': {'t4-x4': {'strategy': 'time_slicing', 'replicas': 4}},
                            'k8s_gpu_sharing_default_profile': 't4-x4',
                            'k8s_gpu_sharing_output_dir': os.path.join(dest, 'out', 'k8s')},
        'gpu_workloads': {'gpu_workloads_platform': 'iotedge', 'gpu_workloads_list': [WORKLOAD],
                          'gpu_workloads_iotedge_dest': os.path.join(dest, 'edge', 'deployment.json')},
        'gpu_sharing': {'gpu_sharing_strategy': 'mps', 'gpu_sharing_platform': 'iotedge', 'gpu_sharing_workloads': [WORKLOAD],
                        'gpu_sharing_mps_pipe_directory': pipe, 'gpu_sharing_mps_log_directory': log,
                        'gpu_sharing_iotedge_dest': os.path.join(dest, 'edge', 'deployment.json')},
    }


def role_cases(dest):
    systemd = {'mps_service_manager': 'systemd', 'mps_gpus': 'all', 'mps_force': True}
    return [
        case('mps', 'misspelt variable', {'mps_usr': 'nobody'}, 'mps_usr'),
        case('mps', 'unknown user under systemd', dict(systemd, mps_user='no-such-user'), 'mps_user', 'no-such-user'),
        case('mps', 'unknown group under systemd', dict(systemd, mps_group='no-such-group'), 'mps_group', 'no-such-group'),
        case('mps', 'user with a newline under systemd', dict(systemd, mps_user='root\nExecStartPre=/bin/true'), 'mps_user',
             expect=['mps_user', 'ExecStartPre']),
        case('mps', 'service name with a space', dict(systemd, mps_service_name='nvidia mps'), 'mps_service_name', 'nvidia mps'),
        case('mps', 'relative environment file', dict(systemd, mps_environment_file='nvidia-mps.env'), 'mps_environment_file',
             'nvidia-mps.env'),
        case('mps', 'unknown UUID', {'mps_gpus': 'GPU-zzz'}, 'gpus', 'GPU-zzz'),
        case('mps', 'empty GPU list', {'mps_gpus': []}, 'gpus', expect=['gpus', 'empty']),
        case('mps', "percentage '20%'", {'mps_default_active_thread_percentage': '20%'}, 'default_active_thread_percentage', '20%'),
        case('mps', "memory '1X'", {'mps_default_pinned_device_mem_limit': {0: '1X'}}, 'default_pinned_device_mem_limit', '1X'),
        case('mps', 'relative pipe directory', {'mps_pipe_directory': 'pipe'}, 'pipe_directory', 'pipe'),
        case('mps', "timeout 'ten'", {'mps_timeout': 'ten'}, 'mps_timeout', 'ten'),
        case('mps', "enabled 'maybe'", {'mps_enabled': 'maybe'}, 'mps_enabled', 'maybe'),
        case('k8s_gpu_sharing', 'misspelt variable', {'k8s_gpu_sharing_profle': 't4-x4'}, 'k8s_gpu_sharing_profle'),
        case('k8s_gpu_sharing', 'no profiles', {'k8s_gpu_sharing_profiles': {}}, 'k8s_gpu_sharing_profiles'),
        case('k8s_gpu_sharing', 'unknown node profile', {'k8s_gpu_sharing_node_profile': 't4-x8'}, 'k8s_gpu_sharing_node_profile',
             't4-x8'),
        case('k8s_gpu_sharing', 'misspelt strategy in a profile', {'k8s_gpu_sharing_profiles': {'t4-x4': {'strategy': 'mpss'}}},
             'strategy', 'mpss'),
        case('k8s_gpu_sharing', 'namespace with a space', {'k8s_gpu_sharing_namespace': 'gpu operator'}, 'namespace', 'gpu operator'),
        case('k8s_gpu_sharing', 'relative output directory', {'k8s_gpu_sharing_output_dir': 'out/k8s'}, 'k8s_gpu_sharing_output_dir',
             'out/k8s'),
        case('k8s_gpu_sharing', 'relative plugin config dest', {'k8s_gpu_sharing_plugin_config_dest': 'config.yaml'},
             'k8s_gpu_sharing_plugin_config_dest', 'config.yaml'),
        case('k8s_gpu_sharing', "retries 'many'", {'k8s_gpu_sharing_verify_retries': 'many'}, 'k8s_gpu_sharing_verify_retries', 'many'),
        case('gpu_workloads', 'misspelt variable', {'gpu_workloads_workload': [WORKLOAD]}, 'gpu_workloads_workload'),
        case('gpu_workloads', 'unknown platform', {'gpu_workloads_platform': 'docker'}, 'gpu_workloads_platform', 'docker'),
        case('gpu_workloads', 'workload name with shell', {'gpu_workloads_list': [dict(WORKLOAD, name='a;rm -rf /')]}, 'name',
             'a;rm -rf /'),
        case('gpu_workloads', 'relative output directory', {'gpu_workloads_output_dir': 'review'}, 'gpu_workloads_output_dir', 'review'),
        case('gpu_workloads', 'unknown reserved GPU', {'gpu_workloads_reserved_gpus': ['GPU-zzz']}, 'reserved_gpus', 'GPU-zzz'),
        case('gpu_workloads', "oversubscribe 'maybe'", {'gpu_workloads_oversubscribe': 'maybe'}, 'gpu_workloads_oversubscribe', 'maybe'),
        case('gpu_workloads', 'relative IoT Edge dest', {'gpu_workloads_iotedge_dest': 'deployment.json'}, 'dest', 'deployment.json'),
        case('gpu_workloads', "allocation 'claims'", {'gpu_workloads_allocation': 'claims'}, 'gpu_workloads_allocation', 'claims'),
        case('gpu_sharing', 'misspelt variable', {'gpu_sharing_stratgy': 'mps'}, 'gpu_sharing_stratgy'),
        case('gpu_sharing', 'misspelt strategy', {'gpu_sharing_strategy': 'mpss'}, 'gpu_sharing_strategy', 'mpss'),
        case('gpu_sharing', 'relative output directory', {'gpu_sharing_output_dir': 'review'}, 'gpu_sharing_output_dir', 'review'),
        case('gpu_sharing', 'percentage 101', {'gpu_sharing_mps_default_active_thread_percentage': 101},
             'mps_default_active_thread_percentage', 101),
        case('gpu_sharing', 'image with a space', {'gpu_sharing_workloads': [dict(WORKLOAD, image='a b')]}, 'image', 'a b'),
        case('gpu_sharing', 'IoT Edge dest with ..', {'gpu_sharing_iotedge_dest': dest + '/../deployment.json'}, 'iotedge_dest',
             dest + '/../deployment.json'),
    ]


# ---- playbooks (bad -e) ------------------------------------------------------------------

def playbook_cases():
    return [
        case('site.yml', 'misspelt strategy', {'gpu_sharing_strategy': 'mpss'}, 'gpu_sharing_strategy', 'mpss'),
        case('site.yml', 'relative pipe directory', {'gpu_sharing_mps_pipe_directory': 'pipe'}, 'mps_pipe_directory', 'pipe'),
        case('mps.yml', 'index of no GPU', {'mps_gpus': 7}, 'gpus', 7),
        case('mps.yml', "percentage '20%'", {'mps_default_active_thread_percentage': '20%'}, 'default_active_thread_percentage', '20%'),
        case('mps_enable.yml', 'timeout 0', {'mps_timeout': 0}, 'timeout', 0),
        case('mps_disable.yml', 'misspelt variable', {'mps_gpu': [1]}, 'mps_gpu'),
        case('k8s_gpu_sharing.yml', 'unknown node profile', {'k8s_gpu_sharing_node_profile': 't4-x8'}, 'k8s_gpu_sharing_node_profile',
             't4-x8'),
        case('gpu_workloads.yml', "oversubscribe 'maybe'", {'gpu_workloads_oversubscribe': 'maybe'}, 'gpu_workloads_oversubscribe',
             'maybe'),
        case('gpu_inventory.yml', 'relative pipe directory', {'mps_pipe_directory': 'pipe'}, 'mps_pipe_directory', 'pipe'),
        # The report's sampling options are the same for every device: a bad one stops the run
        # before any file is written (in the directory the run starts in, which is checked).
        case('gpu_report.yml', 'sample seconds -1', {'gpu_report_sample_seconds': -1}, 'sample_seconds', -1),
        case('gpu_report.yml', "sample interval 'fast'", {'gpu_report_sample_interval': 'fast'}, 'sample_interval', 'fast'),
    ]


# ---- the device, before and after ----------------------------------------------------------

def tree(root, skip):
    """Every entry under ``root`` (but inside ``skip``): type, mode, owner, and a file's content."""
    entries = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            entry = {'mode': oct(info.st_mode), 'owner': (info.st_uid, info.st_gid)}
            if stat.S_ISREG(info.st_mode) and not any(path.startswith(s + os.sep) for s in skip):
                with open(path, 'rb') as handle:
                    entry['content'] = handle.read()
            if not any(path.startswith(s + os.sep) for s in skip) or stat.S_ISDIR(info.st_mode):
                entries[os.path.relpath(path, root)] = entry
        dirs[:] = [d for d in dirs if os.path.join(directory, d) not in skip]
    return entries


class Device(object):
    """One simulated two-T4 device with NVIDIA's real MPS daemon and manifests already written."""

    def __init__(self, root):
        self.root = root
        self.home = fleet.create_host(root, 'dev', DEVICE, nvidia_root=NVIDIA_ROOT)
        self.python = os.path.join(self.home, 'python')
        self.pipe = os.path.join(self.home, 'mps', 'pipe')
        self.log = os.path.join(self.home, 'mps', 'log')
        self.dest = os.path.join(self.home, 'dest')
        # The roles' cases run side by side: they are given a pipe directory no daemon serves
        # (NVIDIA's daemon refuses clients that talk to it at once), and must start none there.
        self.idle_pipe = os.path.join(self.home, 'idle', 'pipe')
        self.idle_log = os.path.join(self.home, 'idle', 'log')
        for path in (self.pipe, self.log, self.idle_pipe, self.idle_log, os.path.join(self.dest, 'systemd'), os.path.join(self.dest, 'default'),
                     os.path.join(self.dest, 'out')):
            os.makedirs(path, 0o755)
        for relative, content, mode in (('k8s/detector.yaml', 'kind: Deployment\n', 0o640),
                                        ('edge/deployment.json', '{"modulesContent": {}}\n', 0o600),
                                        ('plugin/config.yaml', 'version: v1\n', 0o644)):
            path = os.path.join(self.dest, relative)
            if not os.path.isdir(os.path.dirname(path)):
                os.makedirs(os.path.dirname(path), 0o755)
            with open(path, 'w') as handle:
                handle.write(content)
            os.chmod(path, mode)
        env = dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=self.pipe, CUDA_MPS_LOG_DIRECTORY=self.log)
        subprocess.run([MPS_CONTROL, '-d'], env=env, check=True, timeout=30)
        deadline = time.time() + 20
        while mps_query(self.pipe, 'get_server_list')[0] != 0:
            assert time.time() < deadline, 'the MPS control daemon did not answer'
            time.sleep(0.1)
        assert mps_query(self.pipe, 'set_default_active_thread_percentage 50') == (0, '50.0')
        assert mps_query(self.pipe, 'set_default_device_pinned_mem_limit 0 4G')[0] == 0
        self.before = self.state()

    def state(self):
        with open(os.path.join(self.home, 'nvml.json'), 'rb') as handle:
            nvml = handle.read()
        return {
            'nvml': nvml,
            'daemons': mps_daemons_under(self.home),
            'percentage': mps_query(self.pipe, 'get_default_active_thread_percentage'),
            'pinned': mps_query(self.pipe, 'get_default_device_pinned_mem_limit 0'),
            'priority': mps_query(self.pipe, 'get_default_client_priority'),
            # The daemon's log changes as it is asked; its sockets are not files to compare.
            'files': tree(self.home, skip=[self.pipe, self.log]),
        }

    def changes(self):
        """What differs from before the cases ran (empty when nothing changed)."""
        after = self.state()
        changed = [key for key in sorted(after) if key != 'files' and after[key] != self.before[key]]
        before_files, after_files = self.before['files'], after['files']
        for path in sorted(set(before_files) | set(after_files)):
            if before_files.get(path) != after_files.get(path):
                changed.append('file %s: %s -> %s' % (path, _brief(before_files.get(path)), _brief(after_files.get(path))))
        return changed


def _brief(entry):
    if entry is None:
        return 'absent'
    return dict((key, value[:60] if key == 'content' else value) for key, value in entry.items())


@pytest.fixture
def device(sim_root):
    from harness import require_nvidia_userland  # pylint: disable=import-error,import-outside-toplevel
    require_nvidia_userland()
    dev = Device(sim_root)
    yield dev
    for pid in mps_daemons_under(sim_root):
        try:
            os.kill(pid, 9)
        except OSError:
            pass


# ---- running -------------------------------------------------------------------------------

def write_inventory(path, device, group, cases, host_vars, common=None):
    """One host per case (``c001``, ...), all on ``device``; ``host_vars(case)`` gives its variables."""
    hosts = {}
    for number, item in enumerate(cases, 1):
        hosts['c%03d' % number] = dict(host_vars(item), case_name='%s: %s' % (item['target'], item['name']))
    data = {'all': {'vars': dict({'ansible_connection': 'local', 'ansible_python_interpreter': device.python,
                                  'edge_gpu_become': False}, **(common or {})),
                    'children': {group: {'children': dict(
                        ('%s_%s' % (group, target), {'hosts': dict((host, hosts[host]) for host in hosts
                                                                   if cases[int(host[1:]) - 1]['target'] == target)})
                        for target in set(item['target'] for item in cases))}}}}
    with open(path, 'w') as handle:
        yaml.dump(data, handle, Dumper=_Dumper, default_flow_style=False)
    return dict(('c%03d' % number, item) for number, item in enumerate(cases, 1))


def ansible_playbook(inventory, playbook, extra_vars, cwd):
    command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, '-f', '10', playbook]
    for name, value in extra_vars.items():
        command += ['-e', json.dumps({name: value})]
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_FORCE_COLOR='0')
    started = time.time()
    try:
        proc = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail('%s hung for %ds: %s' % (playbook, RUN_TIMEOUT, (exc.output or '')[-3000:]))
    return proc.returncode, proc.stdout, time.time() - started


def check_results(by_host, results, output):
    """The problems of each case: passed, no message naming the option and value, a traceback."""
    problems = []
    for host, item in sorted(by_host.items()):
        got = results.get(host)
        label = '%s %s: %s' % (host, item['target'], item['name'])
        if got is None:
            problems.append('%s: no result recorded' % label)
            continue
        if not got['failed']:
            problems.append('%s: accepted (it must fail)' % label)
            continue
        text = got['msg'] if isinstance(got['msg'], str) else json.dumps(got['msg'])
        for word in ('Traceback', 'MODULE FAILURE'):
            if word in text or word in (got.get('module_stderr') or ''):
                problems.append('%s: %s: %s' % (label, word, text[:300]))
        missing = [word for word in item['expect'] if word not in text]
        if missing:
            problems.append('%s: message lacks %s: %s' % (label, ', '.join(repr(w) for w in missing), text[:400]))
    for word in ('Traceback', 'MODULE FAILURE'):
        if word in output:
            problems.append('the run printed %r' % word)
    return problems


def listing(*roots):
    """Every path under ``roots``: a relative path must not have written anything beside the
    playbooks or in the directory ansible-playbook runs in."""
    return set(os.path.join(directory, name) for root in roots for directory, dirs, files in os.walk(root)
               for name in dirs + files)


def run_family(device, tmp_path, playbook, group, cases, host_vars, common=None):
    inventory = str(tmp_path / ('%s.yml' % group))
    results = str(tmp_path / ('%s-results.json' % group))
    by_host = write_inventory(inventory, device, group, cases, host_vars, common)
    before = listing(PLAYBOOKS, str(tmp_path))
    rc, output, seconds = ansible_playbook(inventory, os.path.join(PLAYBOOKS, playbook), {'results_file': results},
                                           cwd=str(tmp_path))
    strays = sorted(listing(PLAYBOOKS, str(tmp_path)) - before - set([results]))
    with open(str(tmp_path / ('%s.log' % group)), 'w') as handle:
        handle.write(output)
    # Every case is rescued, so no host may end failed or unreachable (ansible-playbook may still
    # exit 2 where a role's argument validation failed, rescued or not).
    stuck = [line for line in output.split('PLAY RECAP')[-1].splitlines()
             if ' : ' in line and ('failed=0' not in line or 'unreachable=0' not in line)]
    assert rc in (0, 2) and not stuck and os.path.exists(results), output[-5000:]
    with open(results) as handle:
        recorded = json.load(handle)
    print('%s: %d cases in %.1fs' % (group, len(cases), seconds))
    problems = check_results(by_host, recorded, output) + ['written outside the device: %s' % path for path in strays]
    print('\n'.join(problems))
    return problems


def test_modules(device, tmp_path):
    cases = module_cases(device.pipe, device.log, device.dest)
    problems = run_family(device, tmp_path, 'modules.yml', 'module_cases', cases,
                          lambda item: {'case_module': item['target'], 'case_args': item['args']})
    changes = device.changes()
    print('\n'.join(changes))
    assert problems + changes == []


def test_filters(device, tmp_path):
    problems = run_family(device, tmp_path, 'filters.yml', 'filter_cases', filter_cases(),
                          lambda item: {'case_filter': item['target'], 'case_input': item['args']['input'],
                                        'case_workloads': item['args'].get('workloads'),
                                        'case_kwargs': item['args'].get('kwargs', {})})
    changes = device.changes()
    print('\n'.join(changes))
    assert problems + changes == []


def test_roles(device, tmp_path):
    base = role_base(device.idle_pipe, device.idle_log, device.dest)
    # The fleet's own variables (mps_pipe_directory is read by more than the mps role).
    common = {'mps_pipe_directory': device.idle_pipe, 'mps_log_directory': device.idle_log}
    problems = run_family(device, tmp_path, 'roles.yml', 'role_cases', role_cases(device.dest),
                          lambda item: dict(base[item['target']], case_role=item['target'], **item['args']), common)
    changes = device.changes()
    print('\n'.join(changes))
    assert problems + changes == []


def test_playbooks(device, tmp_path):
    """Each playbook with a valid inventory for the device and one bad ``-e``."""
    base = role_base(device.idle_pipe, device.idle_log, device.dest)
    host_vars = {'mps_pipe_directory': device.idle_pipe, 'mps_log_directory': device.idle_log}
    for values in base.values():
        host_vars.update(values)
    inventory = str(tmp_path / 'device.yml')
    write_inventory(inventory, device, 'devices', [{'target': 'device', 'name': 'valid'}], lambda item: host_vars)
    cases = playbook_cases()

    def run(item):
        return ansible_playbook(inventory, 'edge_gpu.sharing.' + item['target'][:-len('.yml')], item['args'], str(tmp_path))

    before = listing(PLAYBOOKS, str(tmp_path))
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, cases))
    problems = ['written outside the device: %s' % path for path in sorted(listing(PLAYBOOKS, str(tmp_path)) - before)]
    for item, (rc, output, _seconds) in zip(cases, runs):
        label = '%s: %s' % (item['target'], item['name'])
        if rc == 0:
            problems.append('%s: accepted (it must fail): %s' % (label, output[-1500:]))
            continue
        for word in ('Traceback', 'MODULE FAILURE'):
            if word in output:
                problems.append('%s: %s in the output' % (label, word))
        missing = [word for word in item['expect'] if word not in output]
        if missing:
            problems.append('%s: output lacks %s: %s' % (label, ', '.join(repr(w) for w in missing), output[-1500:]))
    changes = device.changes()
    print('\n'.join(changes))
    assert problems + changes == []


def counts():
    """Cases per module, filter, role and playbook (tests/README.md quotes these)."""
    families = (('module', module_cases('/p', '/l', '/d')), ('filter', filter_cases()), ('role', role_cases('/d')),
                ('playbook', playbook_cases()))
    table = []
    for kind, cases in families:
        for target in sorted(set(item['target'] for item in cases)):
            table.append((kind, target, sum(1 for item in cases if item['target'] == target)))
    return table


def test_readme_counts_the_cases():
    """tests/README.md's table is the matrix as it is."""
    with open(os.path.join(os.path.dirname(HERE), 'README.md')) as handle:
        readme = handle.read()
    rows = ['| %s | `%s` | %d |' % row for row in counts()]
    rows.append('| all | | %d |' % sum(row[2] for row in counts()))
    section = readme.split('## Bad-input matrix', 1)[1].split('\n## ', 1)[0]
    assert [line for line in section.splitlines() if line.startswith('| ') and not line.startswith('| Kind')
            and not line.startswith('| ---')] == rows


if __name__ == '__main__':
    TOTAL = 0
    for KIND, TARGET, COUNT in counts():
        print('| %s | `%s` | %d |' % (KIND, TARGET, COUNT))
        TOTAL += COUNT
    print('| all | | %d |' % TOTAL)
