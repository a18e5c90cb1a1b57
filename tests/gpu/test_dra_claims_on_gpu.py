# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""DRA claims planned from a real GPU's NVML facts pin the GPU nvidia-smi names.

The simulated fleet's UUIDs are ours; this is where the claim name and the CEL selector meet a
UUID as the driver reports it. Nothing on the GPU changes: the module only writes files.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import yaml

from smi import query_csv  # pylint: disable=import-error

BIN = os.path.dirname(sys.executable)


def test_two_mps_workloads_share_one_claim_pinned_to_the_real_uuid(tmp_path):
    uuid = query_csv('gpu', ['index', 'uuid'])[0]['uuid']
    dest = tmp_path / 'objects'
    play = [{
        'hosts': 'localhost', 'gather_facts': False,
        'vars': {'ansible_python_interpreter': sys.executable},
        'tasks': [
            {'edge_gpu.sharing.gpu_info': {}, 'register': 'info'},
            {'edge_gpu.sharing.k8s_gpu_workload': {
                'gpus': '{{ info.gpu_info.gpus }}', 'sharing': 'mps', 'allocation': 'dra', 'dest': str(dest),
                'workloads': [{'name': 'detector', 'image': 'registry.local/detector:1', 'gpu': 0, 'gpu_percentage': 20},
                              {'name': 'tracker', 'image': 'registry.local/tracker:1', 'gpu': 0, 'gpu_percentage': 30}]}},
        ],
    }]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps(play))
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-c', 'local', '-i', 'localhost,', str(playbook)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout

    objects = {}
    for name in os.listdir(str(dest)):
        with open(str(dest / name)) as handle:
            for obj in yaml.safe_load_all(handle):
                objects.setdefault(obj['kind'], []).append(obj)
    claims = objects['ResourceClaim']
    assert len(claims) == 1 and 'ResourceClaimTemplate' not in objects
    claim = claims[0]
    assert uuid.lower() in claim['metadata']['name']
    request = claim['spec']['devices']['requests'][0]['exactly']
    assert request['deviceClassName'] == 'gpu.nvidia.com'
    assert "'%s'" % uuid in request['selectors'][0]['cel']['expression']
    mps = claim['spec']['devices']['config'][0]['opaque']['parameters']['sharing']
    assert mps['strategy'] == 'MPS' and mps['mpsConfig']['defaultActiveThreadPercentage'] == 30
    pods = dict((obj['metadata']['name'], obj['spec']['template']['spec']) for obj in objects['Deployment'])
    for name in ('detector', 'tracker'):
        assert pods[name]['resourceClaims'][0]['resourceClaimName'] == claim['metadata']['name']
        assert 'nvidia.com/gpu' not in json.dumps(pods[name])
    detector_env = dict((item['name'], item['value']) for item in pods['detector']['containers'][0].get('env', []))
    assert detector_env.get('CUDA_MPS_ACTIVE_THREAD_PERCENTAGE') == '20'
