#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gpu_sharing
short_description: Converge a device's whole GPU sharing state in one call
version_added: 0.1.0
description:
  - The per-device engine of the M(edge_gpu.sharing.gpu_sharing) role and of C(site.yml). From one
    intent (a strategy per device and per GPU, the workloads, GPUs kept for VMs, the MPS defaults)
    it computes one desired state, compares it with the device, and changes only what differs, in
    one round trip. A run that changes nothing reads NVML, the MPS daemon and the manifest once.
  - "Per GPU: V(mps) puts it in C(exclusive_process) compute mode with persistence on and has the MPS
    control daemon serve it (by UUID) with the default active thread percentage, pinned memory limits
    and client priority; V(time_slicing) shares it whole between workloads; V(none) gives it to at
    most one workload. A GPU that leaves MPS and was left in C(exclusive_process) goes back to
    C(default). GPUs in O(reserved_gpus) are never shared and never get a workload."
  - MPS variables are only ever given to workloads placed on a GPU that the MPS daemon serves, and
    the device plugin config it returns for Kubernetes never enables the plugin's own MPS.
  - Everything is validated before anything changes; an invalid request fails naming the value. If a
    step fails part-way (a GPU mode, the daemon, the manifest), the steps already done are undone.
  - One run at a time converges a device; it holds the same lock beside the MPS pipe directory as
    M(edge_gpu.sharing.mps), and a second run waits, then fails with a busy message.
  - A device without GPUs or without a usable NVIDIA driver succeeds when the request needs no GPU
    (strategy V(none) everywhere and no workload that uses a GPU); otherwise it fails clearly.
  - On V(iotedge) the deployment manifest is written to O(iotedge_dest) (mode 0600). An empty
    workload list leaves the manifest as it is unless O(prune=true). On V(kubernetes) the objects
    and the device plugin config are returned for the controller to apply or write.
author:
  - Edge GPU maintainers (@edge-gpu)
requirements:
  - nvidia-ml-py (imported as C(pynvml)) and the NVIDIA driver, where a GPU is used
  - C(nvidia-cuda-mps-control) where a GPU uses MPS
extends_documentation_fragment:
  - edge_gpu.sharing.planning.common
attributes:
  check_mode:
    support: full
    description: Computes and reports every difference, changes nothing.
  diff_mode:
    support: full
    description: GPU modes, the MPS daemon and the manifest, before and after.
options:
  strategy:
    description: How the device's GPUs are shared, unless O(gpu_strategies) says otherwise for a GPU.
    type: str
    choices: [none, time_slicing, mps]
    default: none
  gpu_strategies:
    description:
      - "Per-GPU overrides of O(strategy), keyed by GPU index or UUID, for example C({1: mps}) for MPS on
        the second GPU only."
    type: dict
    default: {}
  platform:
    description: Where the workloads run. V(none) places nothing and writes no manifest.
    type: str
    choices: [kubernetes, iotedge, none]
    default: none
  replicas:
    description: Time-slicing replicas per GPU for the Kubernetes device plugin config.
    type: int
  mps_default_active_thread_percentage:
    description: The MPS daemon's default share of SMs per client, 1 to 100.
    type: raw
  mps_pinned_device_mem_limit:
    description:
      - "The MPS daemon's default pinned device memory limit, one size for every GPU it serves (V(2G)) or
        per GPU index or UUID (C({1: 2G}))."
      - Needs NVIDIA driver 495.29.05 (CUDA 11.5) or later, as does O(workloads[].gpu_memory) on an MPS
        GPU; on an older driver the module fails before anything changes.
    type: raw
  mps_default_client_priority:
    description: The MPS daemon's default client priority.
    type: int
    choices: [0, 1]
  mps_log_directory:
    description:
      - E(CUDA_MPS_LOG_DIRECTORY) of the daemon.
      - An absolute, normalised path of letters, digits and C(. _ / @ + -) only, since it is written
        unquoted into systemd units, environment files and container mounts.
    type: path
    default: /var/log/nvidia-mps
  mps_daemon_owner:
    description:
      - V(module) starts, restarts and stops the daemon itself.
      - V(systemd) leaves its life cycle to its unit (which the M(edge_gpu.sharing.mps) role writes) and
        only checks and sets its defaults.
    type: str
    choices: [module, systemd]
    default: module
  mps_control_binary:
    description: Name or path of C(nvidia-cuda-mps-control).
    type: str
    default: nvidia-cuda-mps-control
  mps_timeout:
    description: Seconds to wait for the daemon to answer, start or stop.
    type: int
    default: 10
  manage_compute_mode:
    description: Set C(exclusive_process) on MPS GPUs and C(default) on GPUs leaving MPS.
    type: bool
    default: true
  force:
    description: Change compute modes or stop the daemon even while clients run.
    type: bool
    default: false
  prune:
    description: With an empty workload list, write a manifest without workloads (which removes them).
    type: bool
    default: false
  iotedge_dest:
    description: Where the IoT Edge deployment manifest is written on the device.
    type: path
    default: /var/lib/edge_gpu/deployment.json
  iotedge_mode:
    description:
      - Permissions of O(iotedge_dest), an octal string; the manifest may hold registry credentials, so
        it is V(0600) unless given, and a mode that lets other users read it (or the group write it) is refused.
      - Checked on every run, also when the manifest is unchanged (a drifted mode is put right, C(changed)).
    type: raw
  iotedge_owner:
    description: User name (or id) that should own O(iotedge_dest); checked on every run.
    type: str
  iotedge_group:
    description: Group name (or id) of O(iotedge_dest); checked on every run.
    type: str
  registry_credentials:
    description: Container registry credentials for the IoT Edge manifest (address, username, password).
    type: dict
  routes:
    description: IoT Edge hub routes.
    type: dict
  gpu_runtime:
    description: Docker runtime for GPU modules on IoT Edge (for example V(nvidia)).
    type: str
  kind:
    description: Kubernetes workload kind.
    type: str
    choices: [Deployment, Job]
    default: Deployment
  namespace:
    description: Kubernetes namespace of the workloads.
    type: str
    default: default
  labels:
    description: Extra labels on the Kubernetes objects.
    type: dict
    default: {}
  gpu_resource:
    description: Extended resource to request per GPU (for example V(nvidia.com/gpu)).
    type: str
  runtime_class:
    description: RuntimeClass of the pods.
    type: str
  allocation:
    description:
      - How the Kubernetes pods get their GPUs, as in M(edge_gpu.sharing.k8s_gpu_workload)'s option of that
        name. V(dra) renders DRA ResourceClaims / ResourceClaimTemplates for NVIDIA's DRA driver, which runs
        one MPS daemon per claim and sets the compute mode itself; so with V(dra) this module runs no MPS
        daemon on the host (a running one is stopped), changes no GPU mode for MPS, and refuses O(replicas)
        and the O(mps_default_active_thread_percentage), O(mps_pinned_device_mem_limit) and
        O(mps_default_client_priority) defaults of the host daemon. Only with O(platform=kubernetes).
    type: str
    choices: [device_plugin, dra]
    default: device_plugin
  time_slice_interval:
    description: With O(allocation=dra), the time-slice interval of claims on time-sliced GPUs.
    type: str
    choices: [Default, Short, Medium, Long]
    default: Default
  restore:
    description:
      - The RV(restore) data an earlier run returned. The module then only puts back what that run
        changed (GPU modes, the MPS daemon and its defaults, the manifest from its backup) and ignores
        the other options (the data says where the daemon is). C(site.yml) uses it when a device fails
        its health check.
    type: dict
seealso:
  - module: edge_gpu.sharing.gpu_info
  - module: edge_gpu.sharing.gpu_mode
  - module: edge_gpu.sharing.mps
'''

EXAMPLES = r'''
- name: MPS on GPU 1, time-slicing on GPU 0, two IoT Edge modules
  edge_gpu.sharing.gpu_sharing:
    strategy: time_slicing
    gpu_strategies: {1: mps}
    platform: iotedge
    mps_default_active_thread_percentage: 50
    workloads:
      - {name: detector, image: "registry.local/detector:1.4", gpu_percentage: 20, gpu: 1}
      - {name: recorder, image: "registry.local/recorder:2.0", gpu: 0}
  become: true

- name: What would change, changing nothing
  edge_gpu.sharing.gpu_sharing:
    strategy: mps
  check_mode: true
  diff: true
'''

RETURN = r'''
available:
  description: Whether NVML could be used on the device.
  returned: success
  type: bool
strategies:
  description: The strategy of each GPU, keyed by index.
  returned: success
  type: dict
  sample: {'0': time_slicing, '1': mps}
mps:
  description: The MPS daemon after the task (predicted in check mode); V(null) where no control program is installed.
  returned: success
  type: dict
plan:
  description: The workload placement, as the M(edge_gpu.sharing.k8s_gpu_workload) module returns it.
  returned: success
  type: dict
manifest:
  description: The IoT Edge deployment manifest (platform V(iotedge)); V(null) when none is written.
  returned: success
  type: dict
objects:
  description: The Kubernetes objects (platform V(kubernetes)).
  returned: success
  type: list
  elements: dict
device_plugin_config:
  description: The NVIDIA device plugin config for this node (platform V(kubernetes)).
  returned: success
  type: dict
differences:
  description: What differed (GPU labels, C(mps), C(manifest)).
  returned: success
  type: list
  elements: str
summary:
  description: One line for people, for example C(strategy mps, GPUs 0:mps, MPS serves 1 GPU(s), workloads 2, changed).
  returned: success
  type: str
restore:
  description:
    - What this run changed, as the module's O(restore) option takes it to put the device back;
      V(null) when nothing changed or in check mode.
  returned: success
  type: dict
error_kind:
  description:
    - On failure, what kind (the same key in every module of the collection), for example
      V(invalid_option), V(plan), V(gpu_mode), V(mps), V(file), V(driver_not_loaded).
  returned: failure
  type: str
'''

import hashlib

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, mps, mps_daemon, nvml, sharing
from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner
from ansible_collections.edge_gpu.sharing.plugins.module_utils import files as file_writer
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import dra, serialize
from ansible_collections.edge_gpu.sharing.plugins.module_utils.runner import run_module


class Files(object):
    """The manifest file, as ``sharing.converge`` reads and writes it."""

    def __init__(self, module):
        self.module = module
        self.attributes = file_writer.file_attributes(module.params, secret=True, prefix='iotedge_',
                                                      dest_option='iotedge_dest')

    @staticmethod
    def render(manifest):
        return serialize.dump_json(manifest)

    @staticmethod
    def fingerprint(content):
        """What --diff shows of a manifest: its size and checksum, never its text (it may hold passwords)."""
        if content is None:
            return None
        data = content.encode('utf-8')
        return '%d bytes, sha256 %s' % (len(data), hashlib.sha256(data).hexdigest())

    @staticmethod
    def current(path):
        old = file_writer.read_bytes(path)
        return None if old is None else to_text(old)

    def differs(self, path, content):
        return file_writer.needs_write(path, content, self.attributes)

    def state(self, path, content=None):
        """What --diff shows of the manifest at ``path`` (``content``: as it will be): fingerprint and attributes."""
        before, after = file_writer.attribute_changes(path, self.attributes)
        fingerprint = self.fingerprint(self.current(path) if content is None else content)
        if fingerprint is None or not before:
            return fingerprint
        attributes = before if content is None else after
        return '%s, %s' % (fingerprint, ', '.join('%s %s' % item for item in sorted(attributes.items())))

    def write(self, path, content):
        """Write ``content``; returns the backup of the file it replaced (``None`` if there was none)."""
        return file_writer.write_file(self.module, path, content, self.attributes, backup=True)['backup_file']

    def put_back(self, path, backup):
        """Make ``path`` what ``backup`` holds again, or remove it when there was no file before."""
        if backup is None:
            file_writer.remove_file(self.module, path)
        else:
            file_writer.write_file(self.module, path, file_writer.read_bytes(backup), self.attributes)


def mps_control(module, settings):
    """The control client for ``settings`` (the module's options, or a ``restore``); ``None``
    where the control program is not installed."""
    binary = mps.find_control_binary(settings['mps_control_binary'], module.get_bin_path)
    if binary is None:
        return None
    return mps.MpsControl(module.run_command, binary, settings['mps_pipe_directory'],
                          settings.get('mps_log_directory', gpu_rules.DEFAULT_LOG_DIRECTORY),
                          timeout=settings['mps_timeout'], timeout_binary=module.get_bin_path('timeout'))


def put_back(module):
    """``restore``: undo what an earlier run changed (``site.yml`` does this when a health check fails)."""
    settings = sharing.parse_restore(module.params['restore'])
    control = mps_control(module, settings)
    if control is None:
        return put_back_locked(module, control, settings)
    with mps.converge_lock(control.pipe_directory, mps_daemon.lock_wait(control.timeout), create=not module.check_mode):
        return put_back_locked(module, control, settings)


def put_back_locked(module, control, settings):
    files = Files(module)
    try:
        with nvml.nvml_session() as session:
            handles, _uuids, indexes = session.select(None)
            gpus = [session.gpu(index, handles[index], False) for index in indexes]
            tracker = sharing.restore(settings, gpus, session, handles, control, files,
                                      module.check_mode)
    except nvml.NvmlError as exc:
        if not exc.unavailable or settings.get('modes'):
            raise
        tracker = sharing.restore(settings, [], None, [], control, files, module.check_mode)
    result = dict(changed=tracker.changed, differences=tracker.differences)
    if module._diff:
        result['diff'] = tracker.diff()
    return result


def converge(module):
    if module.params['restore'] is not None:
        return put_back(module)
    intent = sharing.parse_intent(module.params)
    control = mps_control(module, module.params)
    if nvml.pynvml is None and sharing.needs_gpu(intent):
        module.fail_json(msg=missing_required_lib(nvml.PYNVML_PACKAGE), exception=nvml.PYNVML_IMPORT_ERROR,
                         error_kind='pynvml_missing')
    # One run at a time reads and changes this device's GPU modes, MPS daemon and manifest.
    with mps.converge_lock(intent['pipe_directory'], mps_daemon.lock_wait(intent['timeout']),
                           create=not module.check_mode, parents=sharing.asks_for_mps(intent)):
        return converge_locked(module, intent, control)


def converge_locked(module, intent, control):
    files = Files(module)
    try:
        with nvml.nvml_session() as session:
            handles, _uuids, indexes = session.select(None)
            gpus = [session.gpu(index, handles[index]) for index in indexes]
            available = True
            desired, tracker, mps_after = sharing.converge(intent, gpus, session, handles, control, files,
                                                           module.check_mode,
                                                           session.driver_version() if sharing.asks_pinned_memory(intent) else None)
    except nvml.NvmlError as exc:
        if not exc.unavailable or sharing.needs_gpu(intent):
            raise
        # Nothing here needs a GPU: the device is in the state it was asked for.
        available = False
        desired, tracker, mps_after = sharing.converge(intent, [], None, [], control, files, module.check_mode)
    result = dict(
        changed=tracker.changed,
        available=available,
        strategies=dict((str(index), strategy) for index, strategy in sorted(desired['strategies'].items())),
        mps=sharing.public_mps(mps_after),
        plan=desired['plan'],
        manifest=desired['manifest'],
        objects=desired['objects'],
        device_plugin_config=desired['device_plugin_config'],
        differences=tracker.differences,
        summary=sharing.summary(intent, desired, tracker.changed, available),
        restore=desired['restore'],
    )
    if module._diff:
        result['diff'] = tracker.diff()
    return result


def main():
    argument_spec = dict(planner.COMMON_ARGUMENT_SPEC)
    argument_spec.update(
        strategy=dict(type='str', choices=list(sharing.STRATEGIES), default='none'),
        gpu_strategies=dict(type='dict', default={}),
        platform=dict(type='str', choices=list(sharing.PLATFORMS), default='none'),
        replicas=dict(type='int'),
        mps_default_active_thread_percentage=dict(type='raw'),
        mps_pinned_device_mem_limit=dict(type='raw'),
        mps_default_client_priority=dict(type='int', choices=[0, 1]),
        mps_log_directory=dict(type='path', default=gpu_rules.DEFAULT_LOG_DIRECTORY),
        mps_daemon_owner=dict(type='str', choices=['module', 'systemd'], default='module'),
        mps_control_binary=dict(type='str', default=mps.CONTROL_BINARY),
        mps_timeout=dict(type='int', default=10),
        manage_compute_mode=dict(type='bool', default=True),
        force=dict(type='bool', default=False),
        prune=dict(type='bool', default=False),
        iotedge_dest=dict(type='path', default='/var/lib/edge_gpu/deployment.json'),
        iotedge_mode=dict(type='raw'),
        iotedge_owner=dict(type='str'),
        iotedge_group=dict(type='str'),
        registry_credentials=dict(type='dict', no_log=True),
        routes=dict(type='dict'),
        gpu_runtime=dict(type='str'),
        kind=dict(type='str', choices=['Deployment', 'Job'], default='Deployment'),
        namespace=dict(type='str', default='default'),
        labels=dict(type='dict', default={}),
        gpu_resource=dict(type='str'),
        runtime_class=dict(type='str'),
        allocation=dict(type='str', choices=list(dra.ALLOCATIONS), default='device_plugin'),
        time_slice_interval=dict(type='str', choices=list(dra.TIME_SLICE_INTERVALS), default='Default'),
        restore=dict(type='dict'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, converge)


if __name__ == '__main__':
    main()
