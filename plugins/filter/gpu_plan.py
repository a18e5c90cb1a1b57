# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: gpu_plan
short_description: Place workloads on a device's shared GPUs
version_added: 0.1.0
author: Edge GPU maintainers (@edge-gpu)
description:
  - Decides which GPU each workload gets and the environment that carries the decision, with the
    same planner the deployment modules use. Fails, naming every workload that does not fit and
    why, when no valid plan exists.
positional: workloads
options:
  _input:
    description: The GPUs as M(edge_gpu.sharing.gpu_info) returns them.
    type: list
    elements: dict
    required: true
  workloads:
    description: The workloads (see M(edge_gpu.sharing.k8s_gpu_workload) for their keys).
    type: list
    elements: dict
    required: true
  sharing:
    description:
      - V(time_slicing), V(mps) or V(none) (not shared, one workload per GPU), for every GPU not in O(gpu_sharing).
    type: str
    default: time_slicing
  reserved_gpus:
    description: GPUs kept for VMs (indexes or UUIDs).
    type: list
    elements: raw
    default: []
  oversubscribe:
    description: Allow MPS percentages above 100 on a GPU.
    type: bool
    default: false
  mps_pipe_directory:
    description: The MPS pipe directory given to MPS clients.
    type: str
    default: /tmp/nvidia-mps
  device_ids:
    description: Name GPUs in E(NVIDIA_VISIBLE_DEVICES) by V(index) or V(uuid).
    type: str
    default: index
  gpu_sharing:
    description:
      - Per GPU (index or UUID), V(mps), V(time_slicing) or V(none), overriding O(sharing) for that GPU
        (see M(edge_gpu.sharing.k8s_gpu_workload) for the rules).
    type: dict
'''

EXAMPLES = r'''
- name: Plan two MPS workloads on the device's GPUs
  ansible.builtin.set_fact:
    plan: >-
      {{ node.gpu_info.gpus | edge_gpu.sharing.gpu_plan(
           [{'name': 'detector', 'image': 'registry/detector:1', 'gpu_percentage': 20, 'gpu_memory': '2G'},
            {'name': 'tracker', 'image': 'registry/tracker:1', 'gpu_percentage': 30}],
           sharing='mps') }}

- name: MPS serves GPU 1 only; GPU 0 stays time-sliced
  ansible.builtin.set_fact:
    plan: >-
      {{ node.gpu_info.gpus | edge_gpu.sharing.gpu_plan(
           [{'name': 'camera', 'image': 'registry/camera:1', 'gpu': 0},
            {'name': 'detector', 'image': 'registry/detector:1', 'gpu_percentage': 20}],
           gpu_sharing={1: 'mps'}) }}
'''

RETURN = r'''
_value:
  description:
    - The plan, with C(workloads) (each with C(gpus), C(gpu_uuids), C(sharing) (its GPU's strategy,
      null without a GPU), C(env) and C(settings)) and C(gpus) (each with its C(sharing) and its total
      C(percentage), C(memory) and C(clients)); C(mps_pipe_directory) is set when any GPU is MPS.
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import PlanError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.gpus import DEFAULT_PIPE_DIRECTORY
from ansible_collections.edge_gpu.sharing.plugins.module_utils.plan import make_plan


def gpu_plan(gpus, workloads, sharing='time_slicing', reserved_gpus=None, oversubscribe=False,
             mps_pipe_directory=DEFAULT_PIPE_DIRECTORY, device_ids='index', gpu_sharing=None):
    try:
        return make_plan(gpus, workloads, sharing, reserved_gpus, oversubscribe, mps_pipe_directory, device_ids,
                         gpu_sharing)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """The sharing planner as a filter."""

    def filters(self):
        return {'gpu_plan': gpu_plan}
