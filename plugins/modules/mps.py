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
    running, the defaults already changed are put back.
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
      - V(stopped) sends C(quit) and waits for the daemon and its servers to exit.
    type: str
    choices: [started, stopped]
    default: started
  pipe_directory:
    description:
      - E(CUDA_MPS_PIPE_DIRECTORY) of the daemon. Clients must use the same directory.
      - It is created (mode 0755) when missing. An existing one must be a directory owned by the
        user running the module and must not be writable by others.
    type: path
    default: /tmp/nvidia-mps
  log_directory:
    description:
      - E(CUDA_MPS_LOG_DIRECTORY) of the daemon; created (mode 0755) when missing.
    type: path
    default: /var/log/nvidia-mps
  default_active_thread_percentage:
    description:
      - Default share of the SMs each client may use (E(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE)),
        a number from 1 to 100. Clients can lower it for themselves.
      - Left out, the daemon's value is not changed (a fresh daemon uses 100).
    type: raw
  default_pinned_device_mem_limit:
    description:
      - Default pinned device memory limit per device, as a dictionary of device ordinal (as the
        daemon sees the devices, that is the position in O(gpus)) to a size such as V(512M) or V(2G).
      - The daemon reports limits rounded down to their largest whole unit (V(1500M) reads back
        as V(1G)); the module compares them that way.
    type: dict
  default_client_priority:
    description:
      - Default scheduling priority of clients, V(0) (normal) or V(1) (below normal).
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
        C(timeout)), so a hung daemon fails the task instead of blocking it.
    type: int
    default: 10
notes:
  - The daemon writes no pid file; it holds a lock on C(control_lock) in its pipe directory, and
    that lock, not the socket files it leaves behind, tells whether it runs.
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
'''

import os
import stat

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, mps, nvml, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import EdgeGpuError, InvalidOption

SYSTEM_BIN_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/local/nvidia/bin', '/opt/nvidia/bin']


class Failure(EdgeGpuError):
    kind = 'mps'


def validate(params):
    """Check every option before anything is read or changed; returns the parsed desires."""
    wanted = {}
    gpu_rules.check_pipe_directory(params['pipe_directory'])
    units.absolute_path(params['log_directory'], 'log_directory')
    if params['default_active_thread_percentage'] is not None:
        wanted['default_active_thread_percentage'] = units.parse_percentage(params['default_active_thread_percentage'], 'default_active_thread_percentage')
    limits = {}
    for device, size in (params['default_pinned_device_mem_limit'] or {}).items():
        if not str(device).isdigit():
            raise InvalidOption('default_pinned_device_mem_limit: %r is not a device ordinal (0, 1, ...)' % (device,))
        limits[int(device)] = units.memory_text(units.parse_memory(size, 'default_pinned_device_mem_limit'))
    if limits:
        wanted['default_pinned_device_mem_limit'] = limits
    if params['default_client_priority'] is not None:
        wanted['default_client_priority'] = params['default_client_priority']
    selectors = gpu_rules.parse_selection(params['gpus'])
    if params['timeout'] < 1:
        raise InvalidOption('timeout must be at least 1 second, got %r' % params['timeout'])
    return wanted, selectors


def check_directory(path, what):
    """An existing directory must be ours and not writable by others; a missing one must be creatable."""
    if os.path.lexists(path):
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise Failure('%s %s exists but is not a directory' % (what, path))
        if info.st_uid != os.geteuid():
            raise Failure('%s %s is owned by uid %d, but the daemon would run as uid %d; fix its owner'
                          % (what, path, info.st_uid, os.geteuid()))
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise Failure('%s %s is writable by group or others (mode %04o); make it 0755 or stricter'
                          % (what, path, stat.S_IMODE(info.st_mode)))
        if not os.access(path, os.W_OK | os.X_OK):
            raise Failure('%s %s is not writable' % (what, path))
        return
    parent = path
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise Failure('%s %s cannot be created: %s is not a writable directory' % (what, path, parent))


def resolve_gpus(selectors):
    """The UUIDs of the selected GPUs (device order), refusing unknown and MIG-enabled ones."""
    if nvml.pynvml is None:
        raise Failure(missing_required_lib(nvml.PYNVML_PACKAGE))
    try:
        with nvml.nvml_session() as session:
            handles, uuids, indexes = session.select(selectors)
            mig = [{'index': index, 'uuid': uuids[index], 'mig_mode': session.mig_mode(index, handles[index])}
                   for index in indexes]
    except nvml.NvmlError as exc:
        raise Failure('gpus: %s' % exc, exc.kind)
    mig = [gpu for gpu in mig if gpu_rules.mig_enabled(gpu)]
    if mig:
        raise Failure('gpus: MPS is not set up on MIG-enabled GPUs here: %s' % gpu_rules.labels(mig))
    return [uuids[index] for index in indexes]


def read_defaults(control, devices):
    return {
        'default_active_thread_percentage': control.active_thread_percentage(),
        'default_pinned_device_mem_limit': dict((device, control.pinned_mem_limit(device)) for device in devices),
        'default_client_priority': control.client_priority(),
    }


FRESH_DEFAULTS = {'default_active_thread_percentage': 100.0, 'default_client_priority': 0}


def set_default(control, name, value):
    if name == 'default_active_thread_percentage':
        control.set_active_thread_percentage(value)
    elif name == 'default_client_priority':
        control.set_client_priority(value)
    else:
        # A limit that was never set (None) has nothing to set back: the daemon has no "unset".
        for device, text in sorted(value.items()):
            if text:
                control.set_pinned_mem_limit(device, units.parse_memory(text, 'default_pinned_device_mem_limit'))


def differing(current, wanted):
    """The defaults in ``wanted`` that ``current`` does not already have."""
    todo = {}
    for name, value in wanted.items():
        if name == 'default_pinned_device_mem_limit':
            limits = dict((d, t) for d, t in value.items() if current[name].get(d) != t)
            if limits:
                todo[name] = limits
        elif current[name] != value:
            todo[name] = value
    return todo


def snapshot(running, pid, servers, visible, log_directory, defaults):
    """The daemon's state as the module compares it (pinned limits keyed by int ordinal)."""
    state = {'running': running, 'pid': pid, 'server_list': servers, 'visible_devices': visible,
             'log_directory': log_directory}
    state.update(defaults)
    return state


def public(state):
    """The state as returned to the user: dictionary keys are strings in Ansible results."""
    return dict(state, default_pinned_device_mem_limit=dict(
        (str(device), text) for device, text in sorted(state['default_pinned_device_mem_limit'].items())))


def fresh_defaults(devices):
    return dict(FRESH_DEFAULTS, default_pinned_device_mem_limit=dict((device, None) for device in devices))


def find_binary(module):
    binary = module.params['control_binary']
    if os.sep not in binary:
        return module.get_bin_path(binary, opt_dirs=SYSTEM_BIN_DIRS)
    return binary if os.access(binary, os.X_OK) else None


def run(module):
    params = module.params
    wanted, selectors = validate(params)
    pipe, logs = params['pipe_directory'], params['log_directory']
    try:
        pid = mps.daemon_pid(pipe)
    except OSError as exc:
        raise Failure('cannot tell whether an MPS daemon serves %s: %s' % (pipe, exc))
    not_running = snapshot(False, None, [], None, logs, fresh_defaults([]))
    binary = find_binary(module)
    if binary is None:
        if params['state'] == 'stopped' and pid is None:
            return False, not_running, not_running
        raise Failure('%s not found: install the NVIDIA driver utilities that provide it (Debian/Ubuntu: '
                      'nvidia-cuda-mps or nvidia-utils-<version>) or set control_binary' % params['control_binary'])
    control = mps.MpsControl(module.run_command, binary, pipe, logs, timeout=params['timeout'],
                             timeout_binary=module.get_bin_path('timeout'))

    visible = resolve_gpus(selectors) if selectors and params['state'] == 'started' else None
    limits = wanted.get('default_pinned_device_mem_limit', {})
    if visible:
        too_high = sorted(device for device in limits if device >= len(visible))
        if too_high:
            raise Failure('default_pinned_device_mem_limit: device ordinal(s) %s out of range: the daemon serves %d GPU(s)'
                          % (', '.join(str(device) for device in too_high), len(visible)))
    devices = sorted(set(range(len(visible or []))) | set(limits))

    if pid is None:
        current = not_running
    else:
        env = mps.daemon_environment(pid)
        current = snapshot(True, pid, control.server_pids(), env.get('CUDA_VISIBLE_DEVICES'),
                           env.get('CUDA_MPS_LOG_DIRECTORY', logs), read_defaults(control, devices))
    if params['state'] == 'stopped':
        return stop(module, control, current)
    return start(module, control, current, wanted, visible, devices)


def refuse_if_clients(control, params, doing):
    clients = control.client_pids()
    if clients and not params['force']:
        raise Failure('refusing to %s the MPS daemon for %s: clients are connected (pids %s); stop them first '
                      'or set force: true' % (doing, control.pipe_directory, ', '.join(str(c) for c in clients)))


def stop(module, control, current):
    if not current['running']:
        return False, current, current
    refuse_if_clients(control, module.params, 'stop')
    if not module.check_mode:
        control.stop()
    return True, dict(current, running=False, pid=None, server_list=[]), current


def start(module, control, current, wanted, visible, devices):
    params = module.params
    visible_text = ','.join(visible) if visible else None
    restart = current['running'] and (
        (visible is not None and current['visible_devices'] != visible_text)
        or current['log_directory'] != params['log_directory'])
    need_start = restart or not current['running']
    if need_start:
        for path, what in ((params['pipe_directory'], 'pipe_directory'), (params['log_directory'], 'log_directory')):
            check_directory(path, what)
        if restart:
            refuse_if_clients(control, params, 'restart')
        base = snapshot(True, None, [], visible_text, params['log_directory'], fresh_defaults(devices))
    else:
        base = current
    todo = differing(base, wanted)
    predicted = dict(base, **todo)
    if 'default_pinned_device_mem_limit' in todo:
        predicted['default_pinned_device_mem_limit'] = dict(base['default_pinned_device_mem_limit'])
        predicted['default_pinned_device_mem_limit'].update(todo['default_pinned_device_mem_limit'])
    if module.check_mode or not (need_start or todo):
        return need_start or bool(todo), predicted, current

    if restart:
        control.stop()
    if need_start:
        for path in (params['pipe_directory'], params['log_directory']):
            if not os.path.isdir(path):
                os.makedirs(path, 0o755)
        try:
            control.start(visible)
        except mps.MpsError as exc:
            if restart:
                restore_previous_daemon(control, current)
                raise Failure('%s; the daemon that ran before was started again as it was' % exc)
            raise
    applied = []
    try:
        for name in sorted(todo):
            set_default(control, name, todo[name])
            applied.append(name)
    except mps.MpsError as exc:
        if need_start:
            control.stop()
            raise Failure('%s; the daemon this task started was stopped again' % exc)
        for name in reversed(applied):
            old = base[name]
            if name == 'default_pinned_device_mem_limit':
                old = dict((device, text) for device, text in old.items() if device in todo[name])
            set_default(control, name, old)
        raise Failure('%s; the defaults changed before were put back' % exc)
    final = snapshot(True, control.pid(), control.server_pids(), visible_text if need_start else current['visible_devices'],
                     params['log_directory'], read_defaults(control, devices))
    return True, final, current


def restore_previous_daemon(control, previous):
    old = mps.MpsControl(control.run_command, control.binary, control.pipe_directory, previous['log_directory'],
                         timeout=control.timeout, timeout_binary=control.timeout_binary)
    visible = previous['visible_devices'].split(',') if previous['visible_devices'] else None
    old.start(visible)
    for name in ('default_active_thread_percentage', 'default_client_priority', 'default_pinned_device_mem_limit'):
        set_default(old, name, previous[name])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['started', 'stopped'], default='started'),
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
    try:
        changed, after, before = run(module)
    except EdgeGpuError as exc:
        module.fail_json(msg=str(exc), error_kind=exc.kind)
    result = dict(changed=changed, pipe_directory=module.params['pipe_directory'], **public(after))
    if module._diff:
        result['diff'] = {'before': public(before), 'after': public(after)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
