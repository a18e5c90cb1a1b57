# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""docs/sharing-guide.md's "Device plugin or DRA?" example is what the module writes today."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest
import yaml

from ansible_collections.edge_gpu.sharing.plugins.modules import k8s_gpu_workload

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
GUIDE = os.path.join(ROOT, 'docs', 'sharing-guide.md')


def guide_blocks():
    with open(GUIDE) as handle:
        text = handle.read()
    section = text[text.index('## Device plugin or DRA?'):]
    section = section[:section.index('\n## ', 1)]
    task = yaml.safe_load(re.search(r'```yaml\n(- name: Render the plan.*?)```', section, re.S).group(1))[0]
    files = dict((name, body) for name, body in re.findall(
        r'<summary><code>([a-z_]+\.yaml)</code></summary>\n\n```yaml\n(.*?)```', section, re.S))
    return task, files


def two_t4():
    with open(os.path.join(ROOT, 'tests', 'sim', 'devices', 't4_dual.json')) as handle:
        device = json.load(handle)
    return [{'index': n, 'uuid': gpu['uuid'], 'name': gpu['name'], 'memory': {'total': gpu['memory']['total']},
             'compute_capability': '%d.%d' % tuple(gpu['compute_capability']), 'mig_mode': None}
            for n, gpu in enumerate(device['gpus'])]


@pytest.mark.parametrize('allocation', ['device_plugin', 'dra'])
def test_the_guide_shows_what_the_module_writes(run_module, tmp_path, allocation):
    task, files = guide_blocks()
    assert task['loop'] == ['device_plugin', 'dra'] and sorted(files) == ['device_plugin.yaml', 'dra.yaml']
    task = task['edge_gpu.sharing.k8s_gpu_workload']
    dest = str(tmp_path / ('%s.yaml' % allocation))
    args = dict(gpus=two_t4(), gpu_sharing=task['gpu_sharing'], workloads=task['workloads'], allocation=allocation,
                dest=dest)
    failed, result = run_module(k8s_gpu_workload, args)
    assert not failed, result
    with open(dest) as handle:
        assert handle.read() == files['%s.yaml' % allocation]
