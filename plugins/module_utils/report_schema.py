# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The JSON Schema (draft 2020-12) of the fleet GPU report (``report.json``).

Plain Python, no Ansible imports. ``fleet_report.build`` returns data that validates against
``SCHEMA``; the playbook ships it beside the report as ``report.schema.json``. Every property
carries a ``description``, so the schema is also the report's documentation.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

SCHEMA_VERSION = 1
STRATEGIES = ('mps', 'time_slicing', 'none')
ADVICE_KINDS = ('shrink', 'move', 'room')


def _field(types, description, **more):
    """A property of one JSON type (or a list of types, ``null`` included where it may be absent)."""
    spec = {'type': types, 'description': description}
    spec.update(more)
    return spec


def _object(description, properties, nullable=False, extra=False):
    """An object whose every property is required (a value the report does not know is ``null``)."""
    return {
        'type': ['object', 'null'] if nullable else 'object',
        'description': description,
        'properties': properties,
        'required': sorted(properties),
        'additionalProperties': extra,
    }


def _range(description, nullable=False):
    kind = ['number', 'null'] if nullable else 'number'
    return _object(description, {
        'min': _field(kind, 'The lowest sample, in percent.', minimum=0, maximum=100),
        'mean': _field(kind, 'The mean of the samples, in percent (one decimal).', minimum=0, maximum=100),
        'max': _field(kind, 'The highest sample, in percent.', minimum=0, maximum=100),
    })


_BYTES = ['integer', 'null']

_PROCESS = _object('One compute process on the GPU, as gpu_info lists it.', {
    'pid': _field('integer', 'Process id on the device.'),
    'name': _field(['string', 'null'], 'Process name or path; null when NVML does not give it.'),
    'used_memory': _field(_BYTES, 'GPU memory the process uses, in bytes; null when unavailable.'),
    'type': _field('string', 'C for a compute process (the MPS server among them), M+C for an MPS client, '
                   'as nvidia-smi shows it.'),
    'mps_server': _field('boolean', 'Whether the process is the MPS server (nvidia-cuda-mps-server).'),
    'utilization': _object('Mean SM and memory utilization of this process over the sampling window, in '
                           'percent; null unless sampled on a driver with per-process utilization.', {
                               'sm': _field('number', 'Mean share of the SMs, in percent.'),
                               'memory': _field('number', 'Mean memory-controller utilization, in percent.'),
                           }, nullable=True),
}, extra=True)

_GPU = _object('One GPU: the gpu_info fields under the same names, plus what the report adds.', {
    'device': _field('string', 'Inventory name of the device the GPU is in.'),
    'index': _field('integer', 'NVML index of the GPU (the order of nvidia-smi).', minimum=0),
    'name': _field(['string', 'null'], 'Product name; null where NVML does not report it.'),
    'uuid': _field('string', 'GPU UUID.'),
    'pci_bus_id': _field(['string', 'null'], 'PCI bus id; null on integrated (Jetson/Tegra) GPUs.'),
    'compute_capability': _field(['string', 'null'], 'CUDA compute capability, for example 7.5.'),
    'memory': _object('Frame-buffer memory in bytes; null where NVML does not report it.', {
        'total': _field(_BYTES, 'Total memory in bytes.'),
        'used': _field(_BYTES, 'Used memory in bytes, as nvidia-smi shows it (reserved memory excluded where '
                       'the driver reports it apart).'),
        'free': _field(_BYTES, 'Free memory in bytes.'),
        'reserved': _field(_BYTES, 'Memory the driver reserves, in bytes; null on drivers that do not report '
                           'it apart (NVML memory v1).'),
    }, nullable=True),
    'utilization': _object('One instant utilization reading in percent; null where not supported.', {
        'gpu': _field('integer', 'Percent of time a kernel was running.'),
        'memory': _field('integer', 'Percent of time memory was read or written.'),
    }, nullable=True),
    'utilization_sampled': _object('Utilization over the sampling window; null when not sampled or '
                                   'not supported.', {
                                       'samples': _field('integer', 'How many readings were taken.', minimum=1),
                                       'seconds': _field('number', 'Length of the window in seconds.', minimum=0),
                                       'gpu': _range('GPU (kernel) utilization over the window.'),
                                       'memory': _range('Memory utilization over the window.'),
                                   }, nullable=True),
    'compute_mode': _field(['string', 'null'], 'default, exclusive_process or prohibited; null when unknown.'),
    'persistence_mode': _field(['boolean', 'null'], 'Whether persistence mode is on; null when unknown.'),
    'mig_mode': _object('MIG mode; null on GPUs without MIG.', {
        'current': _field(['string', 'null'], 'enabled or disabled now.'),
        'pending': _field(['string', 'null'], 'The mode after the next GPU reset.'),
    }, nullable=True),
    'temperature': _field(['integer', 'null'], 'Core temperature in degrees Celsius.'),
    'power_draw': _field(['number', 'null'], 'Power draw in watts.'),
    'processes': {
        'type': ['array', 'null'],
        'description': 'Compute processes on the GPU; null where NVML cannot list them (not the same as '
                       'an empty list).',
        'items': _PROCESS,
    },
    'strategy': _field(['string', 'null'], 'The sharing strategy the device\'s intent gives this GPU; null '
                       'when the intent is unknown.', enum=list(STRATEGIES) + [None]),
    'planned': _object('What the sharing plan puts on this GPU; null when the plan is unknown.', {
        'workloads': {'type': 'array', 'items': {'type': 'string'},
                      'description': 'Names of the workloads planned on the GPU.'},
        'percentage': _field(['number', 'null'], 'Sum of the MPS active thread percentages planned on the GPU; '
                             'null unless MPS serves it.'),
        'reserved': _field('boolean', 'Whether the GPU is reserved for VMs (never shared).'),
        'mig': _field('boolean', 'Whether MIG is enabled (the collection does not share it).'),
    }, nullable=True),
    'headroom': _field(['number', 'null'], 'Unused GPU time in percent: 100 minus the highest sampled '
                       'utilization (the instant reading when not sampled); null when unknown.',
                       minimum=0, maximum=100),
})

_ADVICE = _object('One piece of re-planning advice; the report changes nothing.', {
    'kind': _field('string', 'shrink (an MPS share far above use), move (a saturated GPU beside an idle one) '
                   'or room (spare capacity for more workloads).', enum=list(ADVICE_KINDS)),
    'gpu': _field(['integer', 'null'], 'Index of the GPU the advice is about.'),
    'workload': _field(['string', 'null'], 'Name of the workload the advice is about.'),
    'message': _field('string', 'The advice, for people.'),
    'plan': _object('For move advice, the placement the planner gives with the change (only given when '
                    'that plan is valid); else null.', {
                        'change': _object('The change to the device\'s workloads that gives this plan.', {
                            'workload': _field('string', 'The workload to move.'),
                            'gpu': _field('integer', 'The GPU to pin it to (its gpu key).'),
                        }),
                        'workloads': {'type': 'array', 'description': 'Every workload and where the plan puts it.',
                                      'items': _object('One workload of the plan.', {
                                          'name': _field('string', 'Workload name.'),
                                          'gpus': {'type': 'array', 'items': {'type': 'integer'},
                                                   'description': 'GPU indexes it is placed on.'},
                                          'sharing': _field(['string', 'null'], 'Strategy of its GPU.'),
                                          'gpu_percentage': _field(['number', 'null'], 'MPS active thread '
                                                                   'percentage.'),
                                          'gpu_memory': _field(['integer', 'null'], 'MPS pinned memory limit '
                                                               'in bytes.'),
                                      })},
                        'gpus': {'type': 'array', 'description': 'Every GPU and what the plan puts on it.',
                                 'items': _object('One GPU of the plan.', {
                                     'index': _field('integer', 'GPU index.'),
                                     'sharing': _field('string', 'Strategy of the GPU.'),
                                     'percentage': _field(['number', 'null'], 'Sum of MPS percentages.'),
                                     'workloads': {'type': 'array', 'items': {'type': 'string'},
                                                   'description': 'Workloads on the GPU.'},
                                 })},
                    }, nullable=True),
})

_MPS_INTENDED = _object('The MPS control daemon as converging would leave it (the gpu_sharing module\'s mps '
                        'in check mode); null where no control program is installed or the intent is unknown.', {
                            'running': _field(['boolean', 'null'], 'Whether the daemon runs.'),
                            'visible_devices': _field(['string', 'null'], 'UUIDs of the GPUs it serves, '
                                                      'comma-separated; null when it serves every GPU or none.'),
                            'default_active_thread_percentage': _field(['number', 'null'],
                                                                       'Its default active thread percentage.'),
                            'default_pinned_device_mem_limit': {
                                'type': ['object', 'null'],
                                'description': 'Its default pinned device memory limit per served device '
                                               'ordinal (null: none).',
                                'additionalProperties': {'type': ['string', 'null']},
                            },
                            'default_client_priority': _field(['integer', 'null'], 'Its default client priority.'),
                        }, nullable=True)

_DEVICE = _object('One device of the inventory.', {
    'name': _field('string', 'Inventory host name.'),
    'reachable': _field('boolean', 'Whether Ansible reached the device.'),
    'error': _field(['string', 'null'], 'Why gathering or the drift check failed on a reached device; else null.'),
    'available': _field(['boolean', 'null'], 'Whether NVML could be used; null when not known.'),
    'unavailable_reason': _field(['string', 'null'], 'Why NVML could not be used.'),
    'driver_version': _field(['string', 'null'], 'NVIDIA driver version.'),
    'cuda_driver_version': _field(['string', 'null'], 'Highest CUDA version the driver supports.'),
    'intended': _object('What the device is asked for (the gpu_sharing role\'s variables); null when unknown.', {
        'strategy': _field(['string', 'null'], 'The device-wide sharing strategy.'),
        'strategies': {'type': 'object', 'additionalProperties': {'type': 'string', 'enum': list(STRATEGIES)},
                       'description': 'The strategy of each GPU, keyed by GPU index.'},
        'platform': _field(['string', 'null'], 'kubernetes, iotedge or none.'),
        'workloads': _field('integer', 'How many workloads are planned.', minimum=0),
        'mps': _MPS_INTENDED,
    }, nullable=True),
    'actual': _object('What the device reports now; null when not known.', {
        'mps_daemon': _object('The MPS control daemon as gpu_info found it.', {
            'running': _field(['boolean', 'null'], 'Whether it runs (null: could not be told).'),
            'pid': _field(['integer', 'null'], 'Its pid.'),
        }, nullable=True),
        'gpus': {'type': 'array', 'description': 'Per GPU, its mode and its MPS processes.',
                 'items': _object('One GPU as it is.', {
                     'index': _field('integer', 'GPU index.'),
                     'compute_mode': _field(['string', 'null'], 'Its compute mode.'),
                     'persistence_mode': _field(['boolean', 'null'], 'Its persistence mode.'),
                     'mps_server': _field(['boolean', 'null'], 'Whether an MPS server process runs on it '
                                          '(null when processes cannot be listed).'),
                     'mps_clients': _field(['integer', 'null'], 'How many MPS client (M+C) processes run on it.'),
                 })},
    }, nullable=True),
    'drift': _field(['boolean', 'null'], 'true when converging would change the device or asking failed; '
                    'null only when the device was unreachable.'),
    'drift_reasons': {'type': 'array', 'items': {'type': 'string'},
                      'description': 'Why the device is drifted, one line each (empty when not drifted).'},
    'headroom': _field(['number', 'null'], 'Sum of its GPUs\' headroom, in percent of one GPU.', minimum=0),
    'advice': {'type': 'array', 'items': _ADVICE, 'description': 'Re-planning advice for the device.'},
    'gpus': {'type': 'array', 'items': _GPU, 'description': 'The device\'s GPUs in index order.'},
})

SCHEMA = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    'title': 'edge_gpu.sharing fleet GPU report',
    'description': 'Every device\'s GPUs, sharing, drift and re-planning advice, as written to report.json by the '
                   'edge_gpu.sharing.gpu_report playbook.',
    'type': 'object',
    'properties': {
        'schema_version': _field('integer', 'Version of this schema.', const=SCHEMA_VERSION),
        'generated': _field(['string', 'null'], 'When the report was made (ISO 8601), null when not given.'),
        'sample_seconds': _field(['number', 'null'], 'Length of the utilization sampling window asked for, '
                                 'in seconds; null when not given.', minimum=0),
        'summary': _object('Fleet totals.', {
            'devices': _field('integer', 'Devices in the report.', minimum=0),
            'reachable': _field('integer', 'Devices Ansible reached.', minimum=0),
            'unreachable': {'type': 'array', 'items': {'type': 'string'},
                            'description': 'Names of the devices Ansible could not reach.'},
            'gpuless': {'type': 'array', 'items': {'type': 'string'},
                        'description': 'Names of the reached devices without a GPU or a usable NVML.'},
            'gpus': _field('integer', 'GPUs over the fleet.', minimum=0),
            'gpus_by_strategy': {'type': 'object', 'additionalProperties': {'type': 'integer'},
                                 'description': 'GPUs per intended strategy (unknown where the intent is).'},
            'mean_utilization': _field(['number', 'null'], 'Mean GPU utilization over every GPU that reports it '
                                       '(sampled mean, else the instant reading), in percent.'),
            'drifted': {'type': 'array', 'items': {'type': 'string'},
                        'description': 'Names of the devices out of their intended state.'},
            'advice': _field('integer', 'How many pieces of advice the report gives.', minimum=0),
        }),
        'devices': {'type': 'array', 'items': _DEVICE, 'description': 'Every device, by name.'},
    },
    'required': ['schema_version', 'generated', 'sample_seconds', 'summary', 'devices'],
    'additionalProperties': False,
}
