#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: iotedge_manifest
short_description: Azure IoT Edge deployment manifest for workloads sharing a device's GPUs
version_added: 0.1.0
description:
  - Plans which GPU each workload gets (see the planning options) and renders a complete Azure
    IoT Edge deployment manifest (C(modulesContent) with C($edgeAgent) and C($edgeHub)), one
    module per workload with its E(NVIDIA_VISIBLE_DEVICES) and, for MPS, its
    E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE), E(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT), host IPC and the
    MPS pipe directory bound in.
  - Each module's Docker create options are serialised as JSON and split into chunks of at most
    512 characters (C(createOptions), C(createOptions01) ... C(createOptions07)); longer options fail.
  - The manifest is built as data, dumped as JSON and written atomically to O(dest) (check mode,
    C(--diff)); apply it with C(az iot edge set-modules) or leave it for the device's agent.
author:
  - Edge GPU maintainers (@edge-gpu)
extends_documentation_fragment:
  - edge_gpu.sharing.file_attributes
  - edge_gpu.sharing.planning
  - edge_gpu.sharing.planning.common
attributes:
  check_mode:
    support: full
    description: Plans, renders and reports whether O(dest) would change; writes nothing.
  diff_mode:
    support: full
    description: Old and new manifest.
options:
  dest:
    description:
      - The manifest file to write (JSON).
      - It is treated as holding credentials (O(registry_credentials), environment values), so it is
        V(0600) unless O(mode) says otherwise, and a O(mode) that lets other users read it is refused.
    type: path
  registry_credentials:
    description:
      - Container registry credentials, name to C(address), C(username) and C(password).
      - Not logged.
    type: dict
  routes:
    description: edgeHub routes, name to route; by default everything goes upstream.
    type: dict
  store_and_forward_ttl:
    description: How long edgeHub keeps messages it cannot send, in seconds.
    type: int
    default: 7200
  restart_policy:
    description: Restart policy of the workload modules (a workload's own O(workloads[].restart_policy) overrides it).
    type: str
    choices: [never, on-failure, on-unhealthy, always]
    default: always
  module_version:
    description: The C(version) of each workload module.
    type: str
    default: '1.0'
  edge_agent_image:
    description: Image of the edgeAgent system module.
    type: str
    default: mcr.microsoft.com/azureiotedge-agent:1.5
  edge_hub_image:
    description: Image of the edgeHub system module.
    type: str
    default: mcr.microsoft.com/azureiotedge-hub:1.5
  gpu_runtime:
    description: Docker runtime for the workload modules (for example V(nvidia)) where it is not the default.
    type: str
  create_options:
    description:
      - More Docker create options per workload name, merged with the plan's own exactly as
        O(workloads[].create_options) (which is the same thing, given in the workload; give one of them).
      - User C(HostConfig.Binds) are kept and the MPS pipe bind added; a C(HostConfig.IpcMode),
        C(PidMode) or C(Runtime) that contradicts MPS, O(workloads[].host_pid) or O(gpu_runtime) is refused.
    type: dict
    default: {}
  allow_empty:
    description:
      - An empty O(workloads) gives a manifest without modules, and applying it removes every module
        from the device; that is refused unless this is V(true).
    type: bool
    default: false
seealso:
  - module: edge_gpu.sharing.gpu_info
  - module: edge_gpu.sharing.k8s_gpu_workload
'''

EXAMPLES = r'''
- name: Read the GPUs
  edge_gpu.sharing.gpu_info:
  register: node

- name: Two time-shared modules on GPU 0 of a one-T4 device
  edge_gpu.sharing.iotedge_manifest:
    gpus: "{{ node.gpu_info.gpus }}"
    sharing: time_slicing
    workloads:
      - name: nbody1
        image: nvcr.io/nvidia/k8s/cuda-sample:nbody
        args: [nbody, -gpu, -benchmark]
        gpu: 0
      - name: nbody2
        image: nvcr.io/nvidia/k8s/cuda-sample:nbody
        args: [nbody, -gpu, -benchmark]
        gpu: 0
    registry_credentials:
      myacr:
        address: myacr.azurecr.io
        username: myacr
        password: "{{ vault_acr_password }}"
    dest: /srv/iotedge/edge-01.deployment.json

- name: Two T4s, MPS on GPU 1 only; an uploader without a GPU in the host's PID namespace
  edge_gpu.sharing.iotedge_manifest:
    gpus: "{{ node.gpu_info.gpus }}"
    gpu_sharing: {1: mps}
    workloads:
      - name: camera
        image: myacr.azurecr.io/camera:1
        gpu: 0
      - name: detector
        image: myacr.azurecr.io/detector:1
        gpu_percentage: 40
        image_pull_policy: never
        create_options:
          HostConfig:
            Binds: ["/srv/models:/models:ro"]
      - name: uploader
        image: myacr.azurecr.io/uploader:1
        gpu: none
        host_pid: true
        restart_policy: on-failure
    dest: /srv/iotedge/edge-02.deployment.json
'''

RETURN = r'''
error_kind:
  description:
    - On failure, what kind of failure it was (the same key in every module of the collection).
      V(plan) when the workloads do not fit, V(manifest) for options that would give an invalid
      manifest (or an empty one without O(allow_empty)), V(file) when O(dest) cannot be written.
  returned: failure
  type: str
  sample: plan
plan:
  description: The sharing plan (as the C(edge_gpu.sharing.gpu_plan) filter returns it).
  returned: always
  type: dict
manifest:
  description: The deployment manifest (registry passwords are masked in the task output).
  returned: always
  type: dict
dest:
  description: The file written.
  returned: when O(dest) is given
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edge_gpu.sharing.plugins.module_utils import files
from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import iotedge, serialize
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


def render(module):
    params = module.params
    attributes = files.file_attributes(params, secret=True)
    if params['dest']:
        # Relative paths would depend on the task's working directory.
        units.absolute_path(params['dest'], 'dest')
    plan = planner.plan_from_params(params)
    manifest = iotedge.manifest(
        plan, registry_credentials=params['registry_credentials'], routes=params['routes'],
        store_and_forward_ttl=params['store_and_forward_ttl'], restart_policy=params['restart_policy'],
        module_version=params['module_version'], edge_agent_image=params['edge_agent_image'],
        edge_hub_image=params['edge_hub_image'], gpu_runtime=params['gpu_runtime'],
        create_options=params['create_options'], allow_empty=params['allow_empty'])
    result = dict(changed=False, plan=plan, manifest=manifest)
    if params['dest']:
        written = files.write_file(module, params['dest'], serialize.dump_json(manifest), attributes)
        result.update(changed=written['changed'], dest=params['dest'])
        if module._diff:
            result['diff'] = files.module_diff(written)
    return result


def main():
    argument_spec = dict(planner.PLANNING_ARGUMENT_SPEC)
    argument_spec.update(files.FILE_ARGUMENT_SPEC)
    argument_spec.update(
        dest=dict(type='path'),
        registry_credentials=dict(type='dict', no_log=True),
        routes=dict(type='dict'),
        store_and_forward_ttl=dict(type='int', default=7200),
        restart_policy=dict(type='str', choices=list(iotedge.RESTART_POLICIES), default='always'),
        module_version=dict(type='str', default='1.0'),
        edge_agent_image=dict(type='str', default=iotedge.EDGE_AGENT_IMAGE),
        edge_hub_image=dict(type='str', default=iotedge.EDGE_HUB_IMAGE),
        gpu_runtime=dict(type='str'),
        create_options=dict(type='dict', default={}),
        allow_empty=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, render)


if __name__ == '__main__':
    main()
