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
      - V(time_slicing) shares whole GPUs (E(NVIDIA_VISIBLE_DEVICES) only; no fractions).
      - V(mps) gives each workload its own E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE) and
        E(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT) and the MPS pipe directory.
    type: str
    choices: [mps, time_slicing]
    default: time_slicing
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
    required: true
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
        description: Pin to one GPU (index or UUID), or V(all) for every GPU.
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
'''
