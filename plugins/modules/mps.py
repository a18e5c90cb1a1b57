#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mps
short_description: Start, stop and configure the CUDA MPS control daemon
version_added: 0.1.0
description:
  - Manages NVIDIA's CUDA Multi-Process Service control daemon (C(nvidia-cuda-mps-control)) for
    one pipe directory, idempotently.
  - It first reads the daemon's state (the lock it holds in the pipe directory, its environment,
    C(get_server_list) and the current defaults) and then changes only what differs.
  - The defaults (active thread percentage, pinned device memory limits, client priority) are set
    through the control pipe while the daemon runs. They do not survive C(quit), so the module
    sets them again whenever it (re)starts the daemon.
  - The daemon answers refused values and unknown commands with exit code 0 and a message, so
    every reply is parsed and read back.
  - All options are checked before anything changes. If setting a default fails after the module
    started the daemon, it stops the daemon again; if it fails on a daemon that was already
    running, the defaults already changed are put back. If a restart fails, the daemon that ran
    before is started again as it was.
  - With O(state=configured) the module only sets the defaults of the daemon another owner runs
    (for example a systemd unit); it never starts, stops or restarts it.
  - O(gpus) are the GPUs the daemon serves, passed to it as E(CUDA_VISIBLE_DEVICES) made of
    UUIDs (indexes can change across reboots, UUIDs do not); each must exist and must not have
    MIG enabled. V(all) leaves E(CUDA_VISIBLE_DEVICES) unset. A running daemon serving other GPUs
    is restarted.
  - Compute mode V(exclusive_process) on the GPUs (M(edge_gpu.sharing.gpu_mode)) is what makes
    MPS the only way onto them; this module does not change GPU modes.
author:
  - Edge GPU maintainers (@edge-gpu)
requirements:
  - C(nvidia-cuda-mps-control) on the managed host (NVIDIA driver utilities)
  - nvidia-ml-py (imported as C(pynvml)) when O(gpus) is given
attributes:
  check_mode:
    support: full
    description: Reads the daemon and reports what it would change, changing nothing.
  diff_mode:
    support: full
    description: Daemon state and defaults before and after.
extends_documentation_fragment:
  - edge_gpu.sharing.gpu_selection
options:
  state:
    description:
      - V(started) makes sure a daemon serves O(pipe_directory) with the given GPUs and defaults.
      - V(stopped) sends C(quit) and waits for the daemon and its servers to exit. The default
        options are not used.
      - V(configured) sets the defaults on the daemon already serving O(pipe_directory) and never
        starts, stops or restarts it; its owner (for example its systemd unit) does that. It fails
        (RV(error_kind=mps)) when no daemon serves O(pipe_directory) (in check mode it reports
        instead what the owner's start and these defaults would give), and when O(gpus) names GPUs
        other than those the daemon serves. O(log_directory) and O(force) are not used (the daemon
        logs where its owner said).
    type: str
    choices: [started, stopped, configured]
    default: started
  pipe_directory:
    description:
      - E(CUDA_MPS_PIPE_DIRECTORY) of the daemon. Clients must use the same directory.
      - It is created (mode 0755) when missing. An existing one must be a directory owned by root or
        by the user the daemon runs as, and must not be writable by group or others; otherwise the task
        fails before anything changes, naming the directory, its mode and its owner. This is checked on
        every run, also when the daemon is already running. It may lie in a sticky, world-writable
        directory such as C(/tmp).
      - An absolute, normalised path of letters, digits and C(. _ / @ + -) only, since it is written
        unquoted into systemd units, environment files and container mounts.
    type: path
    default: /tmp/nvidia-mps
  log_directory:
    description:
      - E(CUDA_MPS_LOG_DIRECTORY) of the daemon; created (mode 0755) when missing.
      - The same rules as for O(pipe_directory) apply; an existing one must belong to root or the daemon's
        user and not be writable by group or others (checked on every run), and only letters, digits
        and C(. _ / @ + -) may name it.
    type: path
    default: /var/log/nvidia-mps
  default_active_thread_percentage:
    description:
      - Default share of the SMs each client may use (E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE)),
        a number from 1 to 100. Clients can lower it for themselves.
      - Left out, the daemon's value is not changed (a fresh daemon uses 100).
      - Used with O(state=started) and O(state=configured).
    type: raw
  default_pinned_device_mem_limit:
    description:
      - Default pinned device memory limit per device, as a dictionary of device ordinal (as the
        daemon sees the devices, that is the position in O(gpus)) to a size such as V(512M) or V(2G).
      - The daemon reports limits rounded down to their largest whole unit (V(1500M) reads back
        as V(1G)); the module compares them that way.
      - Used with O(state=started) and O(state=configured).
      - Needs NVIDIA driver 495.29.05 (CUDA 11.5) or later; on an older driver (as NVML reports it)
        the module fails before anything changes.
    type: dict
  default_client_priority:
    description:
      - Default scheduling priority of clients, V(0) (normal) or V(1) (below normal).
      - Used with O(state=started) and O(state=configured).
    type: int
    choices: [0, 1]
  force:
    description:
      - Stop or restart the daemon even while clients are connected to it; they lose MPS.
    type: bool
    default: false
  control_binary:
    description:
      - Name or path of the control program; a name is looked up on E(PATH) and in the usual
        system directories.
    type: str
    default: nvidia-cuda-mps-control
  timeout:
    description:
      - Seconds to wait for the daemon to answer a command, to serve after starting, or to exit
        after C(quit). Every call to the control program is bounded by it (with coreutils'
        C(timeout), or the module's own interpreter where that is not installed), so a hung daemon
        fails the task instead of blocking it.
    type: int
    default: 10
notes:
  - The daemon writes no pid file; it holds a lock on C(control_lock) in its pipe directory, and
    that lock, not the socket files it leaves behind, tells whether it runs. A daemon killed
    without C(quit) leaves those files behind; the next run starts a fresh one.
  - One run at a time manages a daemon. The module holds a lock on the file named like the pipe
    directory plus C(.lock) (for example C(/tmp/nvidia-mps.lock)), beside it, for as long as the run
    lasts, and removes it after; check mode creates none. A second run (another C(ansible-playbook),
    or M(edge_gpu.sharing.gpu_sharing)) waits up to three times O(timeout), then fails with a
    message saying which process is busy.
  - A daemon this module started that never answers is stopped again with a signal; when that is
    not possible the message gives its pid.
seealso:
  - module: edge_gpu.sharing.gpu_mode
  - module: edge_gpu.sharing.gpu_info
  - name: CUDA Multi-Process Service
    description: NVIDIA's MPS documentation.
    link: https://docs.nvidia.com/deploy/mps/index.html
'''

EXAMPLES = r'''
- name: Serve GPU 0 with MPS, each client limited to 20 % of the SMs and 2 GiB
  edge_gpu.sharing.mps:
    gpus: [0]
    default_active_thread_percentage: 20
    default_pinned_device_mem_limit:
      0: 2G
  become: true

- name: Stop MPS (refused while clients are connected)
  edge_gpu.sharing.mps:
    state: stopped
  become: true

- name: Set the client limits on the daemon its systemd unit started (never starts or restarts it)
  edge_gpu.sharing.mps:
    state: configured
    default_active_thread_percentage: 25
    default_client_priority: 1
  become: true

- name: Check that MPS serves, changing nothing
  edge_gpu.sharing.mps:
  check_mode: true
  register: mps_state
'''

RETURN = r'''
running:
  description: Whether the daemon runs after the task (predicted in check mode).
  returned: always
  type: bool
  sample: true
pid:
  description: Pid of the control daemon, V(null) when it does not run (or would only be started).
  returned: always
  type: int
  sample: 4242
server_list:
  description: Pids of the MPS servers the daemon runs (C(get_server_list)).
  returned: always
  type: list
  elements: int
  sample: []
visible_devices:
  description: E(CUDA_VISIBLE_DEVICES) of the daemon, V(null) when unset.
  returned: always
  type: str
  sample: GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6
pipe_directory:
  description: The pipe directory.
  returned: always
  type: str
  sample: /tmp/nvidia-mps
log_directory:
  description: The log directory of the daemon.
  returned: always
  type: str
  sample: /var/log/nvidia-mps
default_active_thread_percentage:
  description: The effective default active thread percentage.
  returned: always
  type: float
  sample: 20.0
default_pinned_device_mem_limit:
  description: Effective pinned memory limit per device ordinal (as the daemon spells it), for the devices known.
  returned: always
  type: dict
  sample: {'0': 2G}
default_client_priority:
  description: The effective default client priority.
  returned: always
  type: int
  sample: 0
error_kind:
  description:
    - Why the task failed, as a short stable word to branch on (the C(msg) says it for people).
    - V(invalid_option) for a refused option value, before anything was read or changed;
      V(mps) when the daemon refused, failed, did not answer, or (O(state=configured)) does not
      run; V(pynvml_missing) when O(gpus) is given without nvidia-ml-py; NVML's own kinds such as
      V(driver_not_loaded) or V(library_not_found) while resolving O(gpus).
  returned: failure
  type: str
  sample: mps
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, mps, mps_daemon, nvml
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import MpsError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


def result(module, changed, difference):
    out = dict(changed=changed, pipe_directory=module.params['pipe_directory'], **difference.after)
    if module._diff:
        out['diff'] = difference.diff()
    return out


def converge(module):
    params = module.params
    request = mps_daemon.parse_options(params)
    binary = mps.find_control_binary(params['control_binary'], module.get_bin_path)
    if binary is None:
        if params['state'] == 'stopped' and mps_daemon.serving_pid(params['pipe_directory']) is None:
            nothing = mps_daemon.not_running(params['log_directory'])
            return result(module, False, mps_daemon.difference(nothing, nothing))
        raise MpsError('%s not found: install the NVIDIA driver utilities that provide it (Debian/Ubuntu: '
                       'nvidia-cuda-mps or nvidia-utils-<version>) or set control_binary' % params['control_binary'])
    if request['selectors'] and params['state'] != 'stopped' and nvml.pynvml is None:
        module.fail_json(msg=missing_required_lib(nvml.PYNVML_PACKAGE), exception=nvml.PYNVML_IMPORT_ERROR,
                         error_kind='pynvml_missing')
    control = mps.MpsControl(module.run_command, binary, params['pipe_directory'], params['log_directory'],
                             timeout=params['timeout'], timeout_binary=module.get_bin_path('timeout'))
    changed, difference = mps_daemon.converge(control, request, module.check_mode)
    return result(module, changed, difference)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=list(mps_daemon.STATES), default='started'),
            pipe_directory=dict(type='path', default=gpu_rules.DEFAULT_PIPE_DIRECTORY),
            log_directory=dict(type='path', default=gpu_rules.DEFAULT_LOG_DIRECTORY),
            gpus=dict(type='raw', default=gpu_rules.ALL),
            default_active_thread_percentage=dict(type='raw'),
            default_pinned_device_mem_limit=dict(type='dict'),
            default_client_priority=dict(type='int', choices=[0, 1]),
            force=dict(type='bool', default=False),
            control_binary=dict(type='str', default=mps.CONTROL_BINARY),
            timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    run_module(module, converge)


if __name__ == '__main__':
    main()
