# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The planning inputs shared by the deployment modules and the gpu_plan filter."""

    DOCUMENTATION = r'''
options:
  gpus:
    description:
      - The device's GPUs exactly as M(edge_gpu.sharing.gpu_info) returns them (RV(edge_gpu.sharing.gpu_info#module:gpu_info.gpus)).
    type: list
    elements: dict
    required: true
  sharing:
    description:
      - How every GPU not listed in O(gpu_sharing) is shared.
      - V(time_slicing) shares whole GPUs (E(NVIDIA_VISIBLE_DEVICES) only; no fractions, never a
        E(CUDA_MPS_*) variable).
      - V(mps) gives every workload on the GPU the MPS pipe directory and, where it asks for them, its own
        E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE) and E(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT). In
        C(exclusive_process) mode every CUDA client of an MPS GPU must go through MPS, so no workload
        on it goes without them.
      - V(none) does not share the GPU; at most one workload runs on it, with the whole GPU.
    type: str
    choices: [mps, time_slicing, none]
    default: time_slicing
  gpu_sharing:
    description:
      - Per GPU, how it is shared, overriding O(sharing) for that GPU; keys are GPU indexes or UUIDs,
        values V(mps), V(time_slicing) or V(none). For example key V(1) with value V(mps) where MPS serves only GPU 1.
      - A workload with O(workloads[].gpu_percentage) only goes on an MPS GPU (pinned to another GPU,
        it is refused). A workload with O(workloads[].gpu=all) needs every usable GPU shared the same way.
      - An unpinned workload without a percentage tries time-sliced GPUs first, then MPS GPUs, then GPUs
        that are not shared, least loaded first.
    type: dict
'''

    # The options gpu_sharing shares with the manifest modules (the device's GPUs it reads itself).
    COMMON = r'''
options:
  reserved_gpus:
    description:
      - GPUs kept for VMs (indexes or UUIDs); never shared and never assigned.
    type: list
    elements: raw
    default: []
  oversubscribe:
    description:
      - Allow the MPS percentages on one GPU to add up to more than 100.
    type: bool
    default: false
  mps_pipe_directory:
    description:
      - The MPS pipe directory of the device (E(CUDA_MPS_PIPE_DIRECTORY)); MPS clients get it in
        their environment and mounted.
      - An absolute, normalised path of letters, digits and C(. _ / @ + -) only, since it is written
        unquoted into systemd units, environment files and container mounts.
    type: path
    default: /tmp/nvidia-mps
  device_ids:
    description:
      - How E(NVIDIA_VISIBLE_DEVICES) names a GPU, by V(index) (as C(nvidia-smi) numbers them) or V(uuid).
    type: str
    choices: [index, uuid]
    default: index
  workloads:
    description:
      - The workloads, placed in this order on the least-loaded GPU they fit on; append new ones
        at the end and the others keep their GPUs.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: DNS-1123 label (lower-case letters, digits and C(-)); also the Kubernetes and IoT Edge module name.
        type: str
        required: true
      image:
        description: Container image.
        type: str
        required: true
      gpu_percentage:
        description: Share of the SMs, 1 to 100 (MPS only; time-sliced GPUs are shared whole).
        type: raw
      gpu_memory:
        description: GPU memory the workload needs, such as V(2G) or V(512M); with MPS also its pinned memory limit.
        type: str
      gpu:
        description:
          - Pin to one GPU (index or UUID), V(all) for every GPU, or V(none) for no GPU.
          - With V(none) the workload gets E(NVIDIA_VISIBLE_DEVICES=void) (the NVIDIA Container
            Toolkit then exposes neither GPUs nor driver capabilities, even where the image sets
            E(NVIDIA_VISIBLE_DEVICES=all)), no GPU resource, no MPS; it may not ask for
            O(workloads[].gpu_percentage) or O(workloads[].gpu_memory).
        type: raw
      command:
        description: Entrypoint (list of strings).
        type: list
        elements: str
      args:
        description: Arguments (list of strings).
        type: list
        elements: str
      env:
        description: More environment variables (name to value); the plan's own variables cannot be overridden.
        type: dict
      host_pid:
        description:
          - Run in the host's PID namespace (Kubernetes C(hostPID), IoT Edge C(HostConfig.PidMode=host)).
        type: bool
      restart_policy:
        description:
          - Kubernetes Jobs only V(Never) or V(OnFailure) (a Deployment's pods always restart); IoT Edge
            V(never), V(on-failure), V(on-unhealthy) or V(always), overriding the module's C(restart_policy)
            for this workload.
        type: str
      image_pull_policy:
        description:
          - Kubernetes V(Always), V(IfNotPresent) or V(Never); IoT Edge V(on-create) or V(never) (the
            module's C(imagePullPolicy)).
        type: str
      node_selector:
        description: Kubernetes only. Node labels the pod must run on (label key to value).
        type: dict
      tolerations:
        description:
          - Kubernetes only. Pod tolerations as Kubernetes writes them (C(key), C(operator) V(Exists) or
            V(Equal), C(value), C(effect) V(NoSchedule), V(PreferNoSchedule) or V(NoExecute), C(tolerationSeconds)).
        type: list
        elements: dict
      image_pull_secrets:
        description: Kubernetes only. Names of the Secrets used to pull the image.
        type: list
        elements: str
      resources:
        description:
          - Kubernetes only. C(requests) and C(limits) (resource name to quantity, for example C(cpu) V(500m),
            C(memory) V(1Gi)). The GPU limit from C(gpu_resource) is added to them; GPU resources may not be
            given here.
        type: dict
      security_context:
        description:
          - Kubernetes only. The container's C(securityContext) (Kubernetes field names, for example
            C(runAsNonRoot), C(capabilities)).
        type: dict
      backoff_limit:
        description: Kubernetes Jobs only. Retries before the Job is failed (Kubernetes C(backoffLimit); 2 when not given).
        type: int
      create_options:
        description:
          - IoT Edge only. More Docker create options for this workload's module, merged with what the plan
            needs. User C(HostConfig.Binds) are kept and the MPS pipe bind is added; a C(HostConfig.IpcMode),
            C(PidMode) or C(Runtime) that differs from what MPS, O(workloads[].host_pid) or C(gpu_runtime)
            needs, C(Entrypoint) / C(Cmd) beside O(workloads[].command) / O(workloads[].args), and C(Env) entries
            naming the plan's variables are refused.
        type: dict
'''
