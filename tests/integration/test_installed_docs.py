# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The installed tarball documents what it ships (ansible-doc renders it)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

ANSIBLE_DOC = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')


def doc(*args):
    return subprocess.run([ANSIBLE_DOC] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


def test_collection_is_installed_from_the_tarball():
    path = os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')
    manifest = os.path.join(path.split(os.pathsep)[0], 'ansible_collections', 'edge_gpu', 'sharing', 'MANIFEST.json')
    with open(manifest) as handle:
        info = json.load(handle)['collection_info']
    assert (info['namespace'], info['name']) == ('edge_gpu', 'sharing')


@pytest.mark.parametrize('module, option', [
    ('edge_gpu.sharing.gpu_info', 'mps_pipe_directory'),
    ('edge_gpu.sharing.gpu_mode', 'compute_mode'),
    ('edge_gpu.sharing.mps', 'default_active_thread_percentage'),
    ('edge_gpu.sharing.device_plugin_config', 'fail_requests_greater_than_one'),
    ('edge_gpu.sharing.k8s_gpu_workload', 'reserved_gpus'),
    ('edge_gpu.sharing.iotedge_manifest', 'registry_credentials'),
    ('edge_gpu.sharing.iotedge_deployment', 'target_condition'),
])
def test_module_docs_render_every_section(module, option):
    proc = doc(module)
    assert proc.returncode == 0, proc.stdout
    for section in ('OPTIONS', 'EXAMPLES', 'RETURN VALUES', option):
        assert section in proc.stdout
    data = json.loads(doc('--json', module).stdout)[module]
    assert data['doc']['options'] and data['examples'] and data['return']


@pytest.mark.parametrize('name', ['edge_gpu.sharing.gpu_summary', 'edge_gpu.sharing.gpu_fleet_summary',
                                  'edge_gpu.sharing.gpu_plan', 'edge_gpu.sharing.fleet_report',
                                  'edge_gpu.sharing.fleet_report_files', 'edge_gpu.sharing.fleet_report_text'])
def test_filter_docs_render(name):
    proc = doc('-t', 'filter', name)
    assert proc.returncode == 0, proc.stdout
    assert 'EXAMPLES' in proc.stdout


@pytest.mark.parametrize('role, variable', [('edge_gpu.sharing.mps', 'mps_enabled'),
                                            ('edge_gpu.sharing.k8s_gpu_sharing', 'k8s_gpu_sharing_output_dir'),
                                            ('edge_gpu.sharing.gpu_workloads', 'gpu_workloads_platform')])
def test_role_argument_specs_render(role, variable):
    proc = doc('-t', 'role', role)
    assert proc.returncode == 0, proc.stdout
    assert variable in proc.stdout
