#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gpu_info
short_description: Report the NVIDIA GPUs of a device through NVML
version_added: 0.1.0
description:
  - Reads the driver, CUDA driver and NVML versions and, for each NVIDIA GPU, its identity,
    memory, utilization, temperature, power draw, compute, persistence and MIG modes, and the
    compute processes running on it, marking MPS clients and servers the way C(nvidia-smi) does.
  - Everything is read in-process through NVML with a single initialise/shutdown; no
    C(nvidia-smi) process is started.
  - Also reports whether an MPS control daemon serves a given pipe directory.
  - With O(sample_seconds), polls the utilization of every selected GPU over a window and returns
    its minimum, mean and maximum (like C(nvidia-smi dmon)), and each process's mean SM and memory
    utilization where the driver keeps per-process samples.
  - Memory is read with NVML's v2 call where the driver and nvidia-ml-py have it, so that
    RV(gpu_info.gpus[].memory.used) is what C(nvidia-smi) shows and the memory the driver reserves
    is reported apart; older drivers (before R510) and bindings fall back to the v1 call.
  - Fields a GPU does not support (for example MIG mode on a Tesla T4) are returned as V(null); so
    are the many fields NVML does not answer on Jetson/Tegra-class devices (PCI information,
    memory, utilization, processes, compute and persistence modes).
author:
  - Edge GPU maintainers (@edge-gpu)
requirements:
  - nvidia-ml-py (imported as C(pynvml)) on the managed host
  - the NVIDIA driver (C(libnvidia-ml.so.1)) on the managed host
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
extends_documentation_fragment:
  - edge_gpu.sharing.gpu_selection
options:
  processes:
    description:
      - Whether to list the compute processes running on each GPU.
      - Set to V(false) to skip the per-process queries on busy devices.
    type: bool
    default: true
  mps_pipe_directory:
    description:
      - The pipe directory (E(CUDA_MPS_PIPE_DIRECTORY)) whose MPS control daemon is reported
        under RV(gpu_info.mps_daemon).
      - An absolute, normalised path of letters, digits and C(. _ / @ + -) only, since it is written
        unquoted into systemd units, environment files and container mounts.
    type: path
    default: /tmp/nvidia-mps
  missing:
    description:
      - What to do on a host where NVML cannot be used at all (no C(pynvml), no NVIDIA driver
        library, or the kernel driver is not loaded).
      - V(fail) fails the task with a message saying which of these it is.
      - V(empty) returns an empty GPU list with RV(gpu_info.available=false) and the reason, so
        that a mixed fleet can be inventoried in one run.
      - Other NVML failures (no permission, a GPU that is lost) always fail.
    type: str
    choices: [fail, empty]
    default: fail
  facts:
    description:
      - Also publish the result as the host fact C(edge_gpu_info).
    type: bool
    default: false
  sample_seconds:
    description:
      - How long to sample utilization, in seconds (a number from V(0.1) to V(3600)).
      - V(0) reads one instant value only (RV(gpu_info.gpus[].utilization)) and returns
        RV(gpu_info.gpus[].utilization_sampled=null).
      - The module takes one sample at the start, then one every O(sample_interval) until
        O(sample_seconds) have passed, so the task lasts about O(sample_seconds).
    type: raw
    default: 0
  sample_interval:
    description:
      - Seconds between two samples, a number from V(0.05) to V(60), at most O(sample_seconds).
      - Checked even when O(sample_seconds=0).
    type: raw
    default: 1.0
notes:
  - Process names can be V(null) when the process exited while it was listed or when NVML may
    not see its name.
seealso:
  - name: NVIDIA Management Library (NVML)
    description: The C library this module reads through nvidia-ml-py.
    link: https://developer.nvidia.com/management-library-nvml
'''

EXAMPLES = r'''
- name: Inventory every GPU of the device
  edge_gpu.sharing.gpu_info:
  register: gpu

- name: Show the GPU names
  ansible.builtin.debug:
    msg: "{{ gpu.gpu_info.gpus | map(attribute='name') | list }}"

- name: Read GPU 0 only, without the process list
  edge_gpu.sharing.gpu_info:
    gpus: [0]
    processes: false

- name: Inventory a mixed fleet, hosts without a driver included, and keep the result as a fact
  edge_gpu.sharing.gpu_info:
    missing: empty
    facts: true

- name: Utilization over 10 seconds, one sample every half second
  edge_gpu.sharing.gpu_info:
    sample_seconds: 10
    sample_interval: 0.5
  register: gpu

- name: Show each GPU's mean utilization over the window
  ansible.builtin.debug:
    msg: "{{ gpu.gpu_info.gpus | map(attribute='utilization_sampled') | list }}"

- name: Select a GPU by UUID and check the MPS daemon of a custom pipe directory
  edge_gpu.sharing.gpu_info:
    gpus:
      - GPU-4d4a8e3c-9a37-4c1e-8a4d-2f6e5b1c0a97
    mps_pipe_directory: /run/nvidia-mps
'''

RETURN = r'''
error_kind:
  description:
    - On failure, what kind of failure it was, for playbooks to branch on (the same key in every
      module of the collection). V(invalid_option) for a bad O(gpus), O(sample_seconds) or
      O(sample_interval); NVML's own kinds such as
      V(pynvml_missing), V(library_not_found), V(driver_not_loaded), V(no_permission),
      V(gpu_lost), V(version_mismatch).
  returned: failure
  type: str
  sample: driver_not_loaded
gpu_info:
  description: What NVML reports for this device.
  returned: always
  type: dict
  contains:
    available:
      description: Whether NVML could be used on this host.
      type: bool
      sample: true
    unavailable_reason:
      description: Why NVML could not be used (only with O(missing=empty)), else V(null).
      type: str
      sample: null
    driver_version:
      description: The NVIDIA driver version, V(null) where NVML does not report it.
      type: str
      sample: 535.261.03
    cuda_driver_version:
      description: The highest CUDA version the driver supports.
      type: str
      sample: '12.2'
    nvml_version:
      description: The NVML library version.
      type: str
      sample: 12.535.261.03
    gpu_count:
      description: How many GPUs the host has, selected or not.
      type: int
      sample: 2
    gpus:
      description: The selected GPUs, in index order.
      type: list
      elements: dict
      contains:
        index:
          description: NVML index of the GPU (the order of C(nvidia-smi)).
          type: int
          sample: 0
        name:
          description: Product name, V(null) where NVML does not report it.
          type: str
          sample: Tesla T4
        uuid:
          description: GPU UUID.
          type: str
          sample: GPU-4d4a8e3c-9a37-4c1e-8a4d-2f6e5b1c0a97
        pci_bus_id:
          description: PCI bus id, V(null) where NVML reports none (integrated Jetson/Tegra GPUs).
          type: str
          sample: 00000000:3B:00.0
        compute_capability:
          description: CUDA compute capability, V(null) where not reported.
          type: str
          sample: '7.5'
        memory:
          description:
            - Frame-buffer memory in bytes (V(null) where not supported).
            - C(total) = C(used) + C(reserved) + C(free) where the driver reports reserved memory.
          type: dict
          contains:
            total:
              description: Total memory in bytes.
              type: int
              sample: 16106127360
            used:
              description:
                - Used memory in bytes, as C(nvidia-smi) shows it.
                - Without the v2 call (C(reserved) is V(null)) this includes the memory the driver
                  reserves.
              type: int
              sample: 1073741824
            free:
              description: Free memory in bytes.
              type: int
              sample: 14763950080
            reserved:
              description:
                - Memory the driver reserves for itself, in bytes, not counted in C(used).
                - V(null) where the driver (before R510) or nvidia-ml-py has no v2 memory call.
              type: int
              sample: 268435456
        utilization:
          description:
            - One instant reading of the utilization over the driver's last sample period, in
              percent (V(null) where not supported).
          type: dict
          contains:
            gpu:
              description: Percent of time a kernel was running.
              type: int
              sample: 12
            memory:
              description: Percent of time memory was read or written.
              type: int
              sample: 3
        utilization_sampled:
          description:
            - Utilization over the O(sample_seconds) window, in percent.
            - V(null) without sampling (O(sample_seconds=0)) and on GPUs that do not report
              utilization (MIG enabled, Jetson/Tegra).
          type: dict
          contains:
            samples:
              description: How many samples were taken (O(sample_seconds) / O(sample_interval), rounded down, plus one).
              type: int
              sample: 11
            seconds:
              description: Seconds from the first sample to the last, as measured.
              type: float
              sample: 5.002
            gpu:
              description: Minimum, mean and maximum of the percent of time a kernel was running.
              type: dict
              contains:
                min:
                  description: Lowest sample.
                  type: int
                  sample: 12
                mean:
                  description: Mean of the samples, rounded to one decimal.
                  type: float
                  sample: 47.3
                max:
                  description: Highest sample.
                  type: int
                  sample: 98
            memory:
              description: Minimum, mean and maximum of the percent of time memory was read or written.
              type: dict
              contains:
                min:
                  description: Lowest sample.
                  type: int
                  sample: 1
                mean:
                  description: Mean of the samples, rounded to one decimal.
                  type: float
                  sample: 18.5
                max:
                  description: Highest sample.
                  type: int
                  sample: 40
        temperature:
          description: GPU core temperature in degrees Celsius.
          type: int
          sample: 41
        power_draw:
          description: Power draw in watts.
          type: float
          sample: 27.5
        compute_mode:
          description: V(default), V(exclusive_process) or V(prohibited).
          type: str
          sample: default
        persistence_mode:
          description: Whether persistence mode is on.
          type: bool
          sample: true
        mig_mode:
          description: MIG mode, V(null) on GPUs without MIG.
          type: dict
          contains:
            current:
              description: V(enabled) or V(disabled).
              type: str
              sample: enabled
            pending:
              description: The mode after the next GPU reset.
              type: str
              sample: enabled
        processes:
          description:
            - Compute processes on the GPU (absent with O(processes=false)).
            - V(null) where NVML cannot list them (for example on Jetson/Tegra), which is not the
              same as an empty list (no process).
          type: list
          elements: dict
          contains:
            pid:
              description: Process id.
              type: int
              sample: 4242
            name:
              description: Process name or path, V(null) when unknown.
              type: str
              sample: /usr/bin/python3
            used_memory:
              description: GPU memory the process uses in bytes, V(null) when unavailable.
              type: int
              sample: 268435456
            type:
              description: V(C) for a compute process, V(M+C) for an MPS client, as in C(nvidia-smi).
              type: str
              sample: M+C
            mps_server:
              description: Whether the process is the MPS server (C(nvidia-cuda-mps-server)).
              type: bool
              sample: false
            utilization:
              description:
                - The process's mean utilization over the O(sample_seconds) window, in percent, from
                  NVML's per-process samples; V(0.0) when the driver took no sample of it in the window.
                - V(null) without sampling and where the driver has no per-process utilization.
              type: dict
              contains:
                sm:
                  description: Mean percent of the SMs' time the process used.
                  type: float
                  sample: 31.5
                memory:
                  description: Mean percent of the memory interface's time the process used.
                  type: float
                  sample: 12.0
    mps_daemon:
      description: The MPS control daemon for O(mps_pipe_directory).
      type: dict
      contains:
        pipe_directory:
          description: The pipe directory that was checked.
          type: str
          sample: /tmp/nvidia-mps
        running:
          description: Whether a control daemon serves it (V(null) when it could not be told).
          type: bool
          sample: false
        pid:
          description: The control daemon's pid.
          type: int
          sample: null
        error:
          description: Why C(running) could not be told, else V(null).
          type: str
          sample: null
ansible_facts:
  description: Set only with O(facts=true).
  returned: when O(facts=true)
  type: dict
  contains:
    edge_gpu_info:
      description: The same data as RV(gpu_info).
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus, nvml
from ansible_collections.edge_gpu.sharing.plugins.module_utils.mps import daemon_status
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


def unavailable(reason, mps_daemon):
    return {
        'available': False,
        'unavailable_reason': reason,
        'driver_version': None,
        'cuda_driver_version': None,
        'nvml_version': None,
        'gpu_count': 0,
        'gpus': [],
        'mps_daemon': mps_daemon,
    }


def read_gpus(session, selection, with_processes, sampling):
    handles, _uuids, indexes = session.select(selection)
    windows = {}
    if sampling:
        seconds, interval = sampling
        windows = session.sample([(index, handles[index]) for index in indexes], seconds, interval, with_processes)
    return len(handles), [session.gpu(index, handles[index], with_processes, windows.get(index)) for index in indexes]


def gather(module):
    params = module.params
    selection = gpus.parse_selection(params['gpus'])
    sampling = nvml.parse_sampling(params['sample_seconds'], params['sample_interval'])
    mps_daemon = daemon_status(gpus.check_pipe_directory(params['mps_pipe_directory'], 'mps_pipe_directory'))

    if nvml.pynvml is None and params['missing'] == 'fail':
        module.fail_json(msg=missing_required_lib(nvml.PYNVML_PACKAGE), exception=nvml.PYNVML_IMPORT_ERROR,
                         error_kind='pynvml_missing')

    try:
        with nvml.nvml_session() as session:
            info = session.system()
            info['gpu_count'], info['gpus'] = read_gpus(session, selection, params['processes'], sampling)
    except nvml.NvmlError as exc:
        if not (exc.unavailable and params['missing'] == 'empty'):
            raise
        info = unavailable(str(exc), mps_daemon)
    else:
        info.update(available=True, unavailable_reason=None, mps_daemon=mps_daemon)

    result = dict(changed=False, gpu_info=info)
    if params['facts']:
        result['ansible_facts'] = {'edge_gpu_info': info}
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gpus=dict(type='raw', default=gpus.ALL),
            processes=dict(type='bool', default=True),
            mps_pipe_directory=dict(type='path', default=gpus.DEFAULT_PIPE_DIRECTORY),
            missing=dict(type='str', choices=['fail', 'empty'], default='fail'),
            facts=dict(type='bool', default=False),
            sample_seconds=dict(type='raw', default=0),
            sample_interval=dict(type='raw', default=1.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, gather)


if __name__ == '__main__':
    main()
