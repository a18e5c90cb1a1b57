# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kubernetes Dynamic Resource Allocation (``resource.k8s.io/v1``) claims for a sharing plan,
built as data for NVIDIA's DRA driver for GPUs (``k8s-dra-driver-gpu``).

Plain Python, no Ansible imports. ``claims(plan, ...)`` gives the claim objects and, per
workload, what its pod references; ``kubernetes.workload_objects(..., allocation='dra')`` puts
that in the pods.

Facts this module relies on (NVIDIA/k8s-dra-driver-gpu, read 2026-11; the project's own
words, no code copied):

- ``api/nvidia.com/resource/v1beta1/api.go``: the opaque config group/version is
  ``resource.nvidia.com/v1beta1``, kind ``GpuConfig``; the driver decodes it strictly (an
  unknown field is an error).
- ``.../gpuconfig.go``: ``GpuConfig`` has one field besides the type, ``sharing`` (optional).
- ``.../sharing.go``: ``sharing`` has ``strategy`` (``TimeSlicing`` or ``MPS``),
  ``timeSlicingConfig`` (``interval``: ``Default``, ``Short``, ``Medium``, ``Long``, the
  driver's time-slice settings 0 to 3; ``Normalize`` fills in a missing ``timeSlicingConfig``
  but not a missing ``interval`` of a present one, which ``Validate`` then dereferences) and ``mpsConfig`` (``defaultActiveThreadPercentage``,
  an integer; ``defaultPinnedDeviceMemoryLimit``, a quantity; ``defaultPerDevicePinnedMemoryLimit``,
  device index or UUID to quantity). A TimeSlicing config with ``mpsConfig`` or an MPS config
  with ``timeSlicingConfig`` is refused. Limits are turned into whole MiB (rounded down) and a
  limit under 1 MiB is refused.
- ``.../validate.go``: an unknown strategy or interval is refused; the percentage must be 0 to
  100 (but ``templates/mps-control-daemon.tmpl.yaml`` hands it to the daemon's
  ``set_default_active_thread_percentage``, which refuses 0, so we write 1 to 100). The MPS
  and time-slicing settings need the driver's (alpha, default off) feature gates
  ``MPSSupport`` and ``TimeSlicingSettings`` (``pkg/featuregates/featuregates.go``); a config
  naming a strategy whose gate is off is refused. ``GpuConfig.Normalize`` (``gpuconfig.go``)
  gives a claim without a config TimeSlicing at the ``Default`` interval when that gate is on.
- ``deployments/helm/.../templates/deviceclass-gpu.yaml``: the device class of whole GPUs is
  ``gpu.nvidia.com`` (driver ``gpu.nvidia.com``); ``cmd/gpu-kubelet-plugin/deviceinfo.go``:
  each GPU publishes the string attribute ``uuid`` (also ``productName``, ``brand``,
  ``architecture``, ...), read in CEL as ``device.attributes['gpu.nvidia.com'].uuid``; whole
  GPUs are published without ``allowMultipleAllocations``, so a GPU is in at most one claim.
- ``cmd/gpu-kubelet-plugin/sharing.go``: the driver starts one MPS control daemon per claim
  (named after the claim's UID) for the claim's GPUs, with the claim's defaults, and gives each
  container only ``CUDA_MPS_PIPE_DIRECTORY`` and the daemon's pipe and shm mounts.

So workloads that share one GPU share ONE ``ResourceClaim`` (the pods name it), and its MPS
defaults are per claim. NVIDIA's MPS documentation (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE,
CUDA_MPS_PINNED_DEVICE_MEM_LIMIT) says a client's own variable only further constrains the
daemon's default. A shared MPS claim therefore gets the largest share (and, when every client
has one, the largest memory limit) as its default, and each client below it gets its own
variable, which can only lower its share.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import k8s_names
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.k8s_names import MANAGED_BY
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.serialize import short_hash
from ansible_collections.edge_gpu.sharing.plugins.module_utils.units import memory_text, number_text

ALLOCATIONS = ('device_plugin', 'dra')
RESOURCE_API_VERSION = 'resource.k8s.io/v1'
DEVICE_CLASS = 'gpu.nvidia.com'
DRIVER = 'gpu.nvidia.com'
CONFIG_API_VERSION = 'resource.nvidia.com/v1beta1'
CONFIG_KIND = 'GpuConfig'
TIME_SLICING = 'TimeSlicing'
MPS = 'MPS'
STRATEGIES = {'time_slicing': TIME_SLICING, 'mps': MPS}
TIME_SLICE_INTERVALS = ('Default', 'Short', 'Medium', 'Long')
# The name of the claim in the pod and of the request in the claim.
POD_CLAIM = 'gpu'
REQUEST = 'gpu'
MIB = 1024 * 1024
PERCENTAGE_VARIABLE = 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'
PINNED_VARIABLE = 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'
# The plan's variables that the DRA driver's claim replaces (device selection, the host daemon).
REPLACED_VARIABLES = ('NVIDIA_VISIBLE_DEVICES', 'CUDA_VISIBLE_DEVICES', 'CUDA_MPS_PIPE_DIRECTORY',
                      PERCENTAGE_VARIABLE, PINNED_VARIABLE)

_CONFIG_KEYS = ('apiVersion', 'kind', 'sharing')
_SHARING_KEYS = ('strategy', 'timeSlicingConfig', 'mpsConfig')
_MPS_KEYS = ('defaultActiveThreadPercentage', 'defaultPinnedDeviceMemoryLimit', 'defaultPerDevicePinnedMemoryLimit')


def check_allocation(allocation, option='allocation'):
    if allocation not in ALLOCATIONS:
        raise ManifestError('%s must be device_plugin or dra, got %r' % (option, allocation))
    return allocation


def check_interval(interval, option='time_slice_interval'):
    if interval not in TIME_SLICE_INTERVALS:
        raise ManifestError('%s must be one of %s (the DRA driver\'s time-slice intervals), got %r'
                            % (option, ', '.join(TIME_SLICE_INTERVALS), interval))
    return interval


def _quantity_bytes(value):
    """Bytes of a quantity the way we write them (an int, or N with Ki/Mi/Gi/Ti); None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        for suffix, factor in (('Ki', 1024), ('Mi', MIB), ('Gi', 1024 * MIB), ('Ti', 1024 * 1024 * MIB)):
            if value.endswith(suffix) and value[:-len(suffix)].isdigit():
                return int(value[:-len(suffix)]) * factor
        if value.isdigit():
            return int(value)
    return None


def _check_limit(where, value):
    size = _quantity_bytes(value)
    if size is None:
        raise ManifestError('%s: %r is not a memory quantity such as 2Gi or 512Mi' % (where, value))
    if size < MIB:
        raise ManifestError('%s: %r is under 1Mi; the DRA driver sets MPS limits in whole MiB and refuses 0'
                            % (where, value))


def validate_gpu_config(config, who='GpuConfig'):
    """Refuse a ``GpuConfig`` NVIDIA's driver would refuse (its strict decoding and ``Validate``)."""
    if not isinstance(config, dict):
        raise ManifestError('%s must be a dictionary, got %r' % (who, config))
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise ManifestError('%s: unknown fields %s' % (who, ', '.join(map(str, unknown))))
    if config.get('apiVersion') != CONFIG_API_VERSION or config.get('kind') != CONFIG_KIND:
        raise ManifestError('%s: apiVersion/kind must be %s/%s, got %r/%r' % (
            who, CONFIG_API_VERSION, CONFIG_KIND, config.get('apiVersion'), config.get('kind')))
    sharing = config.get('sharing')
    if sharing is None:
        return config
    if not isinstance(sharing, dict) or sorted(set(sharing) - set(_SHARING_KEYS)):
        raise ManifestError('%s: sharing must have only %s, got %r' % (who, ', '.join(_SHARING_KEYS), sharing))
    strategy = sharing.get('strategy')
    if strategy not in (TIME_SLICING, MPS):
        raise ManifestError('%s: sharing.strategy must be %s or %s, got %r' % (who, TIME_SLICING, MPS, strategy))
    if strategy == TIME_SLICING:
        if 'mpsConfig' in sharing:
            raise ManifestError('%s: the %s strategy takes no mpsConfig' % (who, TIME_SLICING))
        slicing = sharing.get('timeSlicingConfig')
        if slicing is None:
            # The driver's Normalize fills in the Default interval.
            return config
        if not isinstance(slicing, dict) or sorted(set(slicing) - {'interval'}):
            raise ManifestError('%s: timeSlicingConfig has only interval, got %r' % (who, slicing))
        if slicing.get('interval') is None:
            # Normalize only fills in a missing timeSlicingConfig; Validate then reads the interval
            # of one that is present without a nil check, so the claim cannot be prepared.
            raise ManifestError('%s: timeSlicingConfig needs an interval (one of %s); leave timeSlicingConfig out '
                                'for the Default one' % (who, ', '.join(TIME_SLICE_INTERVALS)))
        check_interval(slicing['interval'], '%s: timeSlicingConfig.interval' % who)
        return config
    if 'timeSlicingConfig' in sharing:
        raise ManifestError('%s: the %s strategy takes no timeSlicingConfig' % (who, MPS))
    mps = sharing.get('mpsConfig') or {}
    if not isinstance(mps, dict) or sorted(set(mps) - set(_MPS_KEYS)):
        raise ManifestError('%s: mpsConfig may have %s, got %r' % (who, ', '.join(_MPS_KEYS), mps))
    percentage = mps.get('defaultActiveThreadPercentage')
    # The driver accepts 0 to 100, but passes the number to the claim's daemon as
    # set_default_active_thread_percentage, and NVIDIA's daemon refuses 0 (it wants (0, 100]),
    # keeps 100 and says so only in its log: 0 would silently mean no limit.
    if percentage is not None and (isinstance(percentage, bool) or not isinstance(percentage, int)
                                   or not 1 <= percentage <= 100):
        raise ManifestError('%s: mpsConfig.defaultActiveThreadPercentage must be a whole number from 1 to 100 '
                            '(the driver takes 0, the MPS daemon refuses it), got %r' % (who, percentage))
    if 'defaultPinnedDeviceMemoryLimit' in mps:
        _check_limit('%s: mpsConfig.defaultPinnedDeviceMemoryLimit' % who, mps['defaultPinnedDeviceMemoryLimit'])
    per_device = mps.get('defaultPerDevicePinnedMemoryLimit')
    if per_device is not None:
        if not isinstance(per_device, dict):
            raise ManifestError('%s: mpsConfig.defaultPerDevicePinnedMemoryLimit must map a device index or UUID '
                                'to a quantity, got %r' % (who, per_device))
        for key, value in per_device.items():
            if not isinstance(key, str) or not (key.isdigit() or gpu_rules.GPU_UUID_RE.match(key)):
                raise ManifestError('%s: mpsConfig.defaultPerDevicePinnedMemoryLimit: %r is neither a device index '
                                    'nor a GPU UUID' % (who, key))
            _check_limit('%s: mpsConfig.defaultPerDevicePinnedMemoryLimit[%s]' % (who, key), value)
    return config


def quantity(size):
    """A byte count as a Kubernetes quantity (``2Gi``, ``512Mi``)."""
    for suffix, factor in (('Gi', 1024 * MIB), ('Mi', MIB)):
        if size % factor == 0:
            return '%d%s' % (size // factor, suffix)
    return str(size)


def gpu_config(sharing, interval='Default', percentage=None, memory=None):
    """The opaque ``GpuConfig`` for a claim on GPUs shared by ``sharing``, or None where the
    driver's default does the same: not shared, or time-sliced at the ``Default`` interval. The
    driver refuses any TimeSlicing config unless its alpha ``TimeSlicingSettings`` gate is on,
    and with the gate on it fills in exactly ``TimeSlicing`` / ``Default`` for a claim without one
    (``GpuConfig.Normalize``), so only another interval is worth the gate."""
    if sharing not in STRATEGIES or (sharing == 'time_slicing' and interval == 'Default'):
        return None
    body = {'strategy': STRATEGIES[sharing]}
    if sharing == 'time_slicing':
        body['timeSlicingConfig'] = {'interval': interval}
    else:
        mps = {}
        if percentage is not None:
            mps['defaultActiveThreadPercentage'] = percentage
        if memory is not None:
            mps['defaultPinnedDeviceMemoryLimit'] = quantity(memory)
        body['mpsConfig'] = mps
    return validate_gpu_config({'apiVersion': CONFIG_API_VERSION, 'kind': CONFIG_KIND, 'sharing': body})


def _selector(uuids):
    attribute = "device.attributes['%s'].uuid" % DRIVER
    if len(uuids) == 1:
        return "%s == '%s'" % (attribute, uuids[0])
    return '%s in [%s]' % (attribute, ', '.join("'%s'" % uuid for uuid in uuids))


def _claim_spec(uuids, config):
    request = {'name': REQUEST, 'exactly': {
        'deviceClassName': DEVICE_CLASS,
        'selectors': [{'cel': {'expression': _selector(uuids)}}],
        'allocationMode': 'ExactCount',
        'count': len(uuids),
    }}
    devices = {'requests': [request]}
    if config is not None:
        devices['config'] = [{'requests': [REQUEST], 'opaque': {'driver': DRIVER, 'parameters': config}}]
    return {'devices': devices}


def spec_hash(spec):
    """Eight hex digits of a claim's or template's ``spec``. Kubernetes refuses any change to
    the ``spec`` of a ResourceClaim or ResourceClaimTemplate (immutable, like a Job's template),
    so the names carry it: a changed plan is a new object that the pods name, and the old one is
    pruned, instead of an update the API server rejects."""
    return short_hash(spec)


def shared_claim_name(uuid, spec):
    """``shared.gpu-<uuid>.<spec hash>``: one name per physical GPU and claim content; never a
    workload's name (those have no dot), so both can be files in one directory."""
    name = 'shared.%s.%s' % (uuid.lower(), spec_hash(spec))
    if not k8s_names.is_dns_subdomain(name):
        raise ManifestError('GPU UUID %r does not make a valid ResourceClaim name' % (uuid,))
    return name


def template_name(workload, spec):
    """``<workload>.gpu.<spec hash>``."""
    return '%s.gpu.%s' % (workload, spec_hash(spec))


def _mps_defaults(gpu_label, members):
    """The claim's defaults and each member's own variables (only for members below the default)."""
    shares = [member['gpu_percentage'] if member['gpu_percentage'] is not None else 100.0 for member in members]
    # The driver takes a whole percentage; a client's own variable may only lower it.
    default = int(math.ceil(max(shares)))
    percentage = default if default < 100 else None
    memories = [member['gpu_memory'] for member in members]
    for member, size in zip(members, memories):
        if size is not None and size % MIB:
            raise ManifestError('workload %r: gpu_memory %d bytes on %s is not a whole number of MiB; the DRA driver '
                                'sets MPS pinned memory limits in whole MiB' % (member['name'], size, gpu_label))
    memory = max(memories) if memories and all(size is not None for size in memories) else None
    env = {}
    for member, share in zip(members, shares):
        own = {}
        if member['gpu_percentage'] is not None and share != default:
            own[PERCENTAGE_VARIABLE] = number_text(share)
        if member['gpu_memory'] is not None and member['gpu_memory'] != memory:
            # Inside the container the claim's GPUs are numbered from 0.
            own[PINNED_VARIABLE] = ','.join('%d=%s' % (ordinal, memory_text(member['gpu_memory'], exact=True))
                                            for ordinal in range(len(member['gpus'])))
        env[member['name']] = own
    return percentage, memory, env


def claims(plan, namespace='default', labels=None, interval='Default'):
    """``(objects, references)``: the ResourceClaims and ResourceClaimTemplates for ``plan``, and
    per workload name what its pod names (``{'resourceClaimName': ...}`` or
    ``{'resourceClaimTemplateName': ...}``) plus the MPS variables it keeps (``env``).

    Every claim pins the GPUs the plan chose by UUID, so the scheduler can never hand a claim a
    reserved GPU or another one than planned. ``ManifestError`` for a plan DRA cannot express.
    """
    check_interval(interval)
    gpus = dict((gpu['index'], gpu) for gpu in plan['gpus'])
    users = {}
    for workload in plan['workloads']:
        for index in workload['gpus']:
            users.setdefault(index, []).append(workload)
    # A GPU is in at most one claim: a workload on several GPUs shares them only with workloads on
    # exactly the same GPUs (one claim for all of them that every pod names).
    for workload in plan['workloads']:
        if len(workload['gpus']) < 2:
            continue
        for index in workload['gpus']:
            others = [other['name'] for other in users[index]
                      if other is not workload and sorted(other['gpus']) != sorted(workload['gpus'])]
            if others:
                raise ManifestError(
                    'workload %r uses %d GPUs, %s among them, which %s also use%s: with DRA a GPU is allocated to '
                    'one claim, and a claim for several GPUs can only be shared by workloads on the same GPUs; give '
                    '%s one GPU (gpu) or the GPU to it alone' % (
                        workload['name'], len(workload['gpus']), gpu_rules.label(gpus[index]), ', '.join(others),
                        '' if len(others) > 1 else 's', workload['name']))
    all_labels = dict(MANAGED_BY)
    all_labels.update(labels or {})
    objects, references, done = [], {}, set()
    for workload in plan['workloads']:
        if not workload['gpus']:
            continue
        first = workload['gpus'][0]
        members = users[first]
        if first in done:
            continue
        done.add(first)
        uuids = [gpus[index]['uuid'] for index in workload['gpus']]
        sharing = workload['sharing']
        percentage = memory = None
        env = dict((member['name'], {}) for member in members)
        if sharing == 'mps':
            percentage, memory, env = _mps_defaults(gpu_rules.label(gpus[first]), members)
        config = gpu_config(sharing, interval, percentage, memory)
        spec = _claim_spec(uuids, config)
        metadata = {'namespace': namespace, 'labels': dict(all_labels)}
        if len(members) > 1:
            # Several pods on this GPU: one claim that they all name.
            metadata['name'] = shared_claim_name(uuids[0], spec)
            objects.append({'apiVersion': RESOURCE_API_VERSION, 'kind': 'ResourceClaim', 'metadata': metadata,
                            'spec': spec})
            reference = {'resourceClaimName': metadata['name']}
        else:
            template = {'metadata': {'labels': dict(all_labels)}, 'spec': spec}
            metadata['name'] = template_name(workload['name'], template)
            objects.append({'apiVersion': RESOURCE_API_VERSION, 'kind': 'ResourceClaimTemplate', 'metadata': metadata,
                            'spec': template})
            reference = {'resourceClaimTemplateName': metadata['name']}
        for member in members:
            references[member['name']] = {'claim': dict(reference), 'env': env[member['name']]}
    return objects, references
