#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_gpu_workload
short_description: Kubernetes Deployments or Jobs for workloads sharing a device's GPUs
version_added: 0.1.0
description:
  - Plans which GPU each workload gets (see the planning options) and renders one Kubernetes
    Deployment or Job per workload that carries the plan, E(NVIDIA_VISIBLE_DEVICES) for
    time-slicing, and for MPS E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE),
    E(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT), host IPC and the MPS pipe directory mounted from the host.
  - Objects are built as data and dumped with YAML; they are returned for M(kubernetes.core.k8s)
    and, with O(dest), written (atomically, with check mode and C(--diff)).
  - A plan that cannot be made fails the task, naming every workload that does not fit and why,
    before anything is written.
author:
  - Edge GPU maintainers (@edge-gpu)
requirements:
  - PyYAML on the host that runs the module (for O(dest))
extends_documentation_fragment:
  - edge_gpu.sharing.file_attributes
  - edge_gpu.sharing.planning
  - edge_gpu.sharing.planning.common
attributes:
  check_mode:
    support: full
    description: Plans, renders and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Old and new contents of each file written.
options:
  kind:
    description: Render each workload as a V(Deployment) (long-running) or a V(Job) (runs to completion).
    type: str
    choices: [Deployment, Job]
    default: Deployment
  namespace:
    description: Namespace of the objects.
    type: str
    default: default
  labels:
    description: More labels for every object and pod.
    type: dict
    default: {}
  gpu_resource:
    description:
      - Where the cluster advertises GPUs through a device plugin, the resource each container asks
        for (for example V(nvidia.com/gpu)); the plugin then picks the GPU and sets
        E(NVIDIA_VISIBLE_DEVICES) itself. Workloads with O(workloads[].gpu=none) ask for none.
      - The plugin, not the pod, chooses the GPU (a pod's own E(NVIDIA_VISIBLE_DEVICES) is overridden, or
        ignored where the container toolkit has C(accept-nvidia-visible-devices-envvar-when-unprivileged = false)
        as NVIDIA recommends), so a workload pinned to one GPU (O(workloads[].gpu)) of a device with several
        is refused; on a one-GPU device the pin and the plugin agree.
      - Left out (appliances that select GPUs by environment), no GPU resource is requested.
    type: str
  runtime_class:
    description: RuntimeClass of the pods (for example V(nvidia)).
    type: str
  allocation:
    description:
      - How the pods get their GPUs. V(device_plugin) (through O(gpu_resource), or by environment).
      - V(dra), Kubernetes Dynamic Resource Allocation (C(resource.k8s.io/v1), Kubernetes 1.34 or later) with
        NVIDIA's DRA driver for GPUs. Before the workloads, the module renders per planned GPU a
        C(ResourceClaimTemplate) (one workload on it) or one C(ResourceClaim) that all its workloads' pods name
        (several), of the device class C(gpu.nvidia.com), pinned to the planned GPU by UUID with a CEL selector,
        with the driver's C(GpuConfig) (C(TimeSlicing) with O(time_slice_interval) unless it is V(Default), or C(MPS) with the largest
        share and memory limit of the claim's workloads as defaults; a workload below them keeps its own
        E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE) / E(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT), which can only lower them).
        Pods name the claim instead of asking for O(gpu_resource) (which must be left out), and have no
        E(NVIDIA_VISIBLE_DEVICES), host IPC or MPS pipe directory of their own; the driver provides them.
      - Kubernetes refuses changes to the C(spec) of a claim or template, so their names end in a hash of it
        (C(shared.<gpu uuid>.<hash>), C(<workload>.gpu.<hash>)), and a changed plan writes new objects and O(prune)
        removes the old files. A claim holds its GPU, so Deployments that name one use the C(Recreate) strategy
        (a rolling update's new pod would wait for the old pod's GPU).
      - A plan DRA cannot express is refused naming the workloads and the GPU, for example a workload on several
        GPUs that another workload on other GPUs shares (a GPU is in one claim only; workloads on the same GPUs
        share one claim).
      - MPS claims need the driver's feature gate C(MPSSupport), and an interval other than V(Default) its gate
        C(TimeSlicingSettings) (both alpha, off by default).
    type: str
    choices: [device_plugin, dra]
    default: device_plugin
  time_slice_interval:
    description:
      - With O(allocation=dra), the time-slice interval of claims on time-sliced GPUs (the DRA driver's
        C(timeSlicingConfig.interval)).
    type: str
    choices: [Default, Short, Medium, Long]
    default: Default
  dest:
    description:
      - A directory (one C(<name>.yaml) per object, so per workload and per DRA claim) or, when it ends in C(.yaml) or C(.yml),
        one multi-document file.
    type: path
  prune:
    description:
      - In a O(dest) directory, remove the C(.yaml) files this module wrote earlier for workloads
        that are no longer in O(workloads) (recognised by their C(app.kubernetes.io/managed-by)
        label); other files are left alone.
    type: bool
    default: true
  allow_empty:
    description:
      - With O(dest) and an empty O(workloads), the module would remove every workload's file (O(prune))
        or write an empty file; that is refused unless this is V(true).
    type: bool
    default: false
seealso:
  - module: edge_gpu.sharing.gpu_info
  - module: edge_gpu.sharing.iotedge_manifest
  - module: kubernetes.core.k8s
'''

EXAMPLES = r'''
- name: Read the GPUs
  edge_gpu.sharing.gpu_info:
  register: node

- name: Two nbody jobs sharing GPU 0 under MPS, 50 % each
  edge_gpu.sharing.k8s_gpu_workload:
    gpus: "{{ node.gpu_info.gpus }}"
    sharing: mps
    kind: Job
    workloads:
      - name: nbody-a
        image: nvcr.io/nvidia/k8s/cuda-sample:nbody
        args: [nbody, -gpu, -benchmark]
        gpu_percentage: 50
        gpu: 0
      - name: nbody-b
        image: nvcr.io/nvidia/k8s/cuda-sample:nbody
        args: [nbody, -gpu, -benchmark]
        gpu_percentage: 50
        gpu: 0
    dest: /srv/gitops/edge-01/
  register: rendered

- name: Apply them
  kubernetes.core.k8s:
    definition: "{{ item }}"
  loop: "{{ rendered.objects }}"
  delegate_to: localhost

- name: MPS on GPU 1 only; a tolerating, CPU-limited Job and a GPU-less helper
  edge_gpu.sharing.k8s_gpu_workload:
    gpus: "{{ node.gpu_info.gpus }}"
    gpu_sharing: {1: mps}
    kind: Job
    workloads:
      - name: detector
        image: nvcr.io/nvidia/k8s/cuda-sample:nbody
        gpu_percentage: 40
        host_pid: true
        restart_policy: OnFailure
        backoff_limit: 4
        tolerations:
          - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
        node_selector: {nvidia.com/gpu.present: "true"}
        resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {memory: 2Gi}}
      - name: uploader
        image: registry.local/uploader:1
        gpu: none
        image_pull_secrets: [registry-local]
    dest: /srv/gitops/edge-02/

- name: Two MPS workloads on GPU 1 as one DRA ResourceClaim pinned to that GPU
  edge_gpu.sharing.k8s_gpu_workload:
    gpus: "{{ node.gpu_info.gpus }}"
    gpu_sharing: {1: mps}
    allocation: dra
    workloads:
      - {name: detector, image: registry.local/detector:2, gpu: 1, gpu_percentage: 20, gpu_memory: 2G}
      - {name: tracker, image: registry.local/tracker:2, gpu: 1, gpu_percentage: 30, gpu_memory: 4G}
    dest: /srv/gitops/edge-03/
'''

RETURN = r'''
error_kind:
  description:
    - On failure, what kind of failure it was (the same key in every module of the collection).
      V(plan) when the workloads do not fit, V(manifest) for options that would give an invalid
      object, V(invalid_option) for an empty O(workloads) with O(dest) but without O(allow_empty),
      V(file) when O(dest) cannot be written, V(missing_library) without PyYAML.
  returned: failure
  type: str
  sample: plan
plan:
  description: The sharing plan (as the C(edge_gpu.sharing.gpu_plan) filter returns it).
  returned: always
  type: dict
objects:
  description: The rendered Deployments or Jobs, after the ResourceClaims and ResourceClaimTemplates they name
    with O(allocation=dra).
  returned: always
  type: list
  elements: dict
files:
  description: The files written (or that would be, in check mode).
  returned: when O(dest) is given
  type: list
  elements: str
removed:
  description: Files of workloads no longer planned that were removed (or would be, in check mode).
  returned: when O(dest) is a directory
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption
from ansible_collections.edge_gpu.sharing.plugins.module_utils import files as file_writer
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import dra, kubernetes, serialize
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.k8s_names import MANAGED_BY
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


def stale_files(dest, wanted):
    """Files in ``dest`` that this module wrote for workloads no longer in ``wanted``."""
    stale = []
    for name in sorted(os.listdir(dest)) if os.path.isdir(dest) else []:
        path = os.path.join(dest, name)
        # A symbolic link is never read through nor removed (files.remove_file refuses it).
        if not name.endswith('.yaml') or path in wanted or os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path) as handle:
                obj = serialize.yaml.safe_load(handle)
        except (IOError, OSError, serialize.yaml.YAMLError):
            continue
        metadata = obj.get('metadata') if isinstance(obj, dict) else None
        labels = metadata.get('labels') if isinstance(metadata, dict) else None
        if isinstance(labels, dict) and all(labels.get(key) == value for key, value in MANAGED_BY.items()):
            stale.append(path)
    return stale


def write_objects(module, dest, objects, prune, attributes):
    """Write the objects; returns (changed, files, removed, diffs)."""
    if dest.endswith(('.yaml', '.yml')):
        targets = [(dest, serialize.dump_yaml_documents(objects))]
    else:
        targets = [(os.path.join(dest, obj['metadata']['name'] + '.yaml'), serialize.dump_yaml(obj)) for obj in objects]
    files = [path for path, _content in targets]
    removed = stale_files(dest, files) if prune and not dest.endswith(('.yaml', '.yml')) else []
    changed, diffs = bool(removed), []
    for path, content in targets:
        written = file_writer.write_file(module, path, content, attributes)
        changed = changed or written['changed']
        diffs.extend(file_writer.diffs(written))
    diffs.extend(file_writer.remove_file(module, path) for path in removed)
    return changed, files, removed, diffs


def render(module):
    params = module.params
    attributes = file_writer.file_attributes(params)
    if params['dest']:
        # Relative paths would depend on the task's working directory.
        units.absolute_path(params['dest'], 'dest')
    plan = planner.plan_from_params(params)
    objects = kubernetes.workload_objects(
        plan, kind=params['kind'], namespace=params['namespace'], labels=params['labels'],
        gpu_resource=params['gpu_resource'], runtime_class=params['runtime_class'],
        allocation=params['allocation'], time_slice_interval=params['time_slice_interval'])
    result = dict(changed=False, plan=plan, objects=objects)
    if params['dest'] and not objects and not params['allow_empty'] and (
            params['prune'] or params['dest'].endswith(('.yaml', '.yml'))):
        raise InvalidOption('workloads is empty: with dest %s that would %s every workload this module wrote there; '
                            'set allow_empty: true if that is what you want'
                            % (params['dest'], 'empty the file of' if params['dest'].endswith(('.yaml', '.yml'))
                               else 'remove the file of'))
    if params['dest']:
        if serialize.yaml is None:
            module.fail_json(msg=missing_required_lib('PyYAML'), exception=serialize.YAML_IMPORT_ERROR,
                             error_kind='missing_library')
        result['changed'], result['files'], removed, diffs = write_objects(
            module, params['dest'], objects, params['prune'], attributes)
        if not params['dest'].endswith(('.yaml', '.yml')):
            result['removed'] = removed
        if module._diff:
            result['diff'] = diffs
    return result


def main():
    argument_spec = dict(planner.PLANNING_ARGUMENT_SPEC)
    argument_spec.update(file_writer.FILE_ARGUMENT_SPEC)
    argument_spec.update(
        kind=dict(type='str', choices=list(kubernetes.KINDS), default='Deployment'),
        namespace=dict(type='str', default='default'),
        labels=dict(type='dict', default={}),
        gpu_resource=dict(type='str'),
        runtime_class=dict(type='str'),
        allocation=dict(type='str', choices=list(dra.ALLOCATIONS), default='device_plugin'),
        time_slice_interval=dict(type='str', choices=list(dra.TIME_SLICE_INTERVALS), default='Default'),
        dest=dict(type='path'),
        prune=dict(type='bool', default=True),
        allow_empty=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, render)


if __name__ == '__main__':
    main()
