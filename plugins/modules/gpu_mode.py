#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gpu_mode
short_description: Set the compute mode and persistence mode of NVIDIA GPUs
version_added: 0.1.0
description:
  - Sets the compute mode (V(default), V(exclusive_process), V(prohibited)) and the persistence
    mode of the selected GPUs through NVML, changing only what differs.
  - Changing the compute mode of a GPU that runs compute processes is refused, naming the
    processes, unless O(force=true).
  - GPUs with MIG enabled keep their compute mode; with O(gpus=all) they are listed under
    RV(skipped_gpus) with a warning, and naming one explicitly fails.
  - Everything is checked before anything is changed. If NVML fails part-way, the changes
    already made are undone.
  - Compute mode does not survive a reboot or a driver reload; the C(edge_gpu.sharing.mps) role
    re-applies it.
author:
  - Edge GPU maintainers (@edge-gpu)
requirements:
  - nvidia-ml-py (imported as C(pynvml)) on the managed host
  - root on the managed host to change modes (C(become=true))
attributes:
  check_mode:
    support: full
    description: Reports the changes it would make and makes none.
  diff_mode:
    support: full
    description: Before and after modes per GPU.
extends_documentation_fragment:
  - edge_gpu.sharing.gpu_selection
options:
  compute_mode:
    description:
      - The compute mode to set. V(exclusive_process) is what MPS needs.
      - Left out, the compute mode is not changed.
    type: str
    choices: [default, exclusive_process, prohibited]
  persistence_mode:
    description:
      - Whether to keep the driver loaded while no client uses the GPU.
      - Left out, persistence mode is not changed.
    type: bool
  force:
    description:
      - Change the compute mode even while compute processes run on the GPU. They keep running,
        but new contexts obey the new mode.
    type: bool
    default: false
seealso:
  - module: edge_gpu.sharing.gpu_info
  - module: edge_gpu.sharing.mps
'''

EXAMPLES = r'''
- name: Prepare every GPU for MPS
  edge_gpu.sharing.gpu_mode:
    compute_mode: exclusive_process
    persistence_mode: true
  become: true

- name: Give GPU 1 back to ordinary time-sharing
  edge_gpu.sharing.gpu_mode:
    gpus: [1]
    compute_mode: default
  become: true

- name: Switch a GPU by UUID even though processes run on it
  edge_gpu.sharing.gpu_mode:
    gpus:
      - GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7
    compute_mode: exclusive_process
    force: true
  become: true
'''

RETURN = r'''
gpus:
  description: The selected GPUs with their modes after the task (predicted in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: NVML index.
      type: int
      sample: 0
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6
    compute_mode:
      description: V(default), V(exclusive_process) or V(prohibited).
      type: str
      sample: exclusive_process
    persistence_mode:
      description: Whether persistence mode is on.
      type: bool
      sample: true
    mig_mode:
      description: The MIG mode as M(edge_gpu.sharing.gpu_info) reports it.
      type: dict
      sample: null
skipped_gpus:
  description: MIG-enabled GPUs whose compute mode was left alone.
  returned: always
  type: list
  elements: dict
  sample: [{index: 0, uuid: GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8, reason: MIG is enabled}]
error_kind:
  description:
    - Why the task failed, as a short stable word to branch on (the C(msg) says it for people).
    - V(invalid_option) for a refused option value; V(gpu_mode) when the modes cannot be applied
      (processes running, MIG, not supported), with nothing changed; V(no_permission) without root;
      V(pynvml_missing) without nvidia-ml-py; NVML's own kinds such as V(driver_not_loaded),
      V(library_not_found) or V(gpu_lost).
  returned: failure
  type: str
  sample: gpu_mode
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpu_modes, gpus as gpu_rules, nvml
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ModeError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


def converge(module):
    params = module.params
    selection = gpu_rules.parse_selection(params['gpus'])
    if nvml.pynvml is None:
        module.fail_json(msg=missing_required_lib(nvml.PYNVML_PACKAGE), exception=nvml.PYNVML_IMPORT_ERROR,
                         error_kind='pynvml_missing')

    with nvml.nvml_session() as session:
        handles, _uuids, indexes = session.select(selection)
        gpus = [session.gpu(index, handles[index]) for index in indexes]
        # A MIG-enabled GPU named explicitly is an error; one reached through "all" is skipped.
        changes, skipped = gpu_modes.plan(gpus, selection is not None, params['compute_mode'],
                                          params['persistence_mode'], params['force'])
        if changes and not module.check_mode:
            if os.geteuid() != 0:
                raise ModeError('changing GPU modes needs root: run the task with become: true (would change %s)'
                                % gpu_rules.labels(change['gpu'] for change in changes), 'no_permission')
            gpu_modes.apply(session, handles, changes)

    after = dict((change['gpu']['index'], change['after']) for change in changes)
    result_gpus = []
    for gpu in gpus:
        modes = after.get(gpu['index'], dict((field, gpu[field]) for field in gpu_modes.FIELDS))
        result_gpus.append(dict(index=gpu['index'], uuid=gpu['uuid'], mig_mode=gpu['mig_mode'], **modes))
    for item in skipped:
        module.warn('%s left as it is: %s' % (gpu_rules.label(item), item['reason']))

    difference = gpu_modes.difference(changes)
    result = dict(changed=difference.changed, gpus=result_gpus, skipped_gpus=skipped)
    if module._diff:
        result['diff'] = difference.diff()
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gpus=dict(type='raw', default=gpu_rules.ALL),
            compute_mode=dict(type='str', choices=list(nvml.COMPUTE_MODES)),
            persistence_mode=dict(type='bool'),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, converge)


if __name__ == '__main__':
    main()
