# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for nvidia-ml-py's ``pynvml``, for tests and the simulated fleet only.

It is found through ``PYTHONPATH`` (never by production code) and describes one
device, read from the JSON file named by ``EDGE_GPU_SIM_NVML``. What ``nvmlDeviceSet*``
changes is written back to that file, so a later run (a later Ansible task) sees it,
as it would on a real device.

Every public name here exists in the real module with the same value:
``tests/unit/sim/test_fake_pynvml_matches_real.py`` checks it. Helpers are private.

Device file keys (NVML units: bytes, milliwatts, CUDA version as 12020):
``driver_version``, ``cuda_driver_version``, ``nvml_version``, ``init_error`` (an
``NVML_ERROR_*`` name raised by ``nvmlInit``), ``strings_as_bytes`` (answer strings as
``bytes`` like old releases), ``deny_changes`` (``nvmlDeviceSet*`` raise NO_PERMISSION,
as for a non-root user), ``process_names`` (pid -> name), and ``gpus``, each with
``name``, ``uuid``, ``pci_bus_id``, ``compute_capability`` ([major, minor]), ``memory``
(v1: {total, used, free}, ``used`` including what the driver reserves), ``memory_v2``
({total, reserved, used, free}; absent: a driver older than the v2 call, which raises
FUNCTION_NOT_FOUND; ``null``: NOT_SUPPORTED), ``utilization`` ({gpu, memory}),
``utilization_series`` (optional list of {gpu, memory} answered in turn by successive
``nvmlDeviceGetUtilizationRates`` calls of one NVML session, cycling; ``utilization``
without it), ``temperature``, ``power_usage``, ``compute_mode``, ``persistence_mode``,
``mig_mode`` ([current, pending]), ``compute_processes`` and ``mps_processes`` ([{pid,
used_memory}]; ``null`` when NVML cannot list them, absent when none run; optional
``sm_util``/``mem_util``, a percentage or a list of them taken in turn, for
``nvmlDeviceGetProcessUtilization``, which answers one sample per such process and call,
NOT_FOUND when there is none), and ``errors`` (NVML function name, ``_v2`` for the v2
memory call, -> ``NVML_ERROR_*`` name it raises). A field that is ``null`` or absent
raises NOT_SUPPORTED, as NVML does for what a GPU lacks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import string
import tempfile
import time

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25
NVML_ERROR_UNKNOWN = 999

NVML_FEATURE_DISABLED = 0
NVML_FEATURE_ENABLED = 1

NVML_TEMPERATURE_GPU = 0

NVML_COMPUTEMODE_DEFAULT = 0
NVML_COMPUTEMODE_EXCLUSIVE_THREAD = 1
NVML_COMPUTEMODE_PROHIBITED = 2
NVML_COMPUTEMODE_EXCLUSIVE_PROCESS = 3

NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

nvmlMemory_v2 = 0x02000028

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Like the real class: ``NVMLError(code)`` is an instance of the subclass for that code."""

    _valClassMapping = {}

    def __new__(cls, value):
        klass = NVMLError._valClassMapping.get(value, cls) if cls is NVMLError else cls
        obj = Exception.__new__(klass)
        obj.value = value
        return obj

    def __str__(self):
        return _MESSAGES.get(self.value, "NVML Error with code %d" % self.value)

    def __eq__(self, other):
        return self.value == other.value

    def __hash__(self):
        return hash(self.value)


def _fixed_value_new(value):
    def new(cls, *args):
        return NVMLError.__new__(cls, value)
    return new


def _make_error_classes():
    # The real module derives one subclass per NVML_ERROR_* constant, named the same way.
    namespace = globals()
    for name in [n for n in list(namespace) if n.startswith('NVML_ERROR_')]:
        class_name = 'NVMLError_' + string.capwords(name.replace('NVML_ERROR_', ''), '_').replace('_', '')
        value = namespace[name]
        cls = type(class_name, (NVMLError,), {'__new__': _fixed_value_new(value)})
        cls.__module__ = __name__
        namespace[class_name] = cls
        NVMLError._valClassMapping[value] = cls


_make_error_classes()


class _Struct(object):
    _fields_ = []

    def __init__(self, **values):
        for name, _ctype in self._fields_:
            setattr(self, name, values.get(name))


class c_nvmlMemory_t(_Struct):
    _fields_ = [('total', 'c_ulonglong'), ('free', 'c_ulonglong'), ('used', 'c_ulonglong')]


class c_nvmlMemory_v2_t(_Struct):
    _fields_ = [('version', 'c_uint'), ('total', 'c_ulonglong'), ('reserved', 'c_ulonglong'),
                ('free', 'c_ulonglong'), ('used', 'c_ulonglong')]


class c_nvmlProcessUtilizationSample_t(_Struct):
    _fields_ = [('pid', 'c_uint'), ('timeStamp', 'c_ulonglong'), ('smUtil', 'c_uint'), ('memUtil', 'c_uint'),
                ('encUtil', 'c_uint'), ('decUtil', 'c_uint')]


class c_nvmlUtilization_t(_Struct):
    _fields_ = [('gpu', 'c_uint'), ('memory', 'c_uint')]


class nvmlPciInfo_t(_Struct):
    _fields_ = [('busId', 'c_char')]


class c_nvmlProcessInfo_t(_Struct):
    _fields_ = [('pid', 'c_uint'), ('usedGpuMemory', 'c_ulonglong')]


# calls: per (function, GPU index), how often it answered in this session (for the series);
# stamp: the last time stamp handed out, in microseconds, strictly increasing.
_state = {'device': None, 'init_count': 0, 'calls': {}, 'stamp': 0}


def _path():
    path = os.environ.get('EDGE_GPU_SIM_NVML')
    if not path:
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
    return path


def _load():
    try:
        with open(_path()) as handle:
            return json.load(handle)
    except (IOError, OSError):
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)


def _save():
    path = _path()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.', prefix='.nvml-')
    with os.fdopen(fd, 'w') as handle:
        json.dump(_state['device'], handle, indent=2, sort_keys=True)
    os.rename(tmp, path)


def _device():
    if _state['init_count'] <= 0:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    return _state['device']


def _string(value):
    if _device().get('strings_as_bytes'):
        return value.encode('utf-8')
    return value


def _raise_named(name):
    raise NVMLError(globals()[name])


def _gpu(handle, function):
    if not isinstance(handle, _Handle):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    gpu = _device()['gpus'][handle.index]
    error = gpu.get('errors', {}).get(function)
    if error:
        _raise_named(error)
    return gpu


def _field(handle, function, key):
    value = _gpu(handle, function).get(key)
    if value is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return value


class _Handle(object):
    def __init__(self, index):
        self.index = index


def nvmlInit():
    device = _load()
    if device.get('init_error'):
        _raise_named(device['init_error'])
    _state['device'] = device
    if _state['init_count'] <= 0:
        _state['calls'] = {}
    _state['init_count'] += 1


def nvmlShutdown():
    _device()
    _state['init_count'] -= 1


def _system_field(key):
    value = _device().get(key)
    if value is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return value


def nvmlSystemGetDriverVersion():
    return _string(_system_field('driver_version'))


def nvmlSystemGetCudaDriverVersion():
    return _system_field('cuda_driver_version')


def nvmlSystemGetNVMLVersion():
    return _string(_system_field('nvml_version'))


def nvmlSystemGetProcessName(pid):
    names = _device().get('process_names', {})
    if str(pid) not in names:
        raise NVMLError(NVML_ERROR_NOT_FOUND)
    return _string(names[str(pid)])


def nvmlDeviceGetCount():
    return len(_device()['gpus'])


def nvmlDeviceGetHandleByIndex(index):
    if not 0 <= index < len(_device()['gpus']):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return _Handle(index)


def nvmlDeviceGetHandleByUUID(uuid):
    if isinstance(uuid, bytes):
        uuid = uuid.decode('utf-8')
    for index, gpu in enumerate(_device()['gpus']):
        if gpu['uuid'] == uuid:
            return _Handle(index)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def nvmlDeviceGetIndex(handle):
    _gpu(handle, 'nvmlDeviceGetIndex')
    return handle.index


def nvmlDeviceGetName(handle):
    return _string(_field(handle, 'nvmlDeviceGetName', 'name'))


def nvmlDeviceGetUUID(handle):
    return _string(_field(handle, 'nvmlDeviceGetUUID', 'uuid'))


def nvmlDeviceGetPciInfo(handle):
    # busId is a C char array in the real struct: always bytes, whatever the release.
    return nvmlPciInfo_t(busId=_field(handle, 'nvmlDeviceGetPciInfo', 'pci_bus_id').encode('ascii'))


def nvmlDeviceGetCudaComputeCapability(handle):
    major, minor = _field(handle, 'nvmlDeviceGetCudaComputeCapability', 'compute_capability')
    return (major, minor)


def nvmlDeviceGetMemoryInfo(handle, version=None):
    if not version:
        return c_nvmlMemory_t(**_field(handle, 'nvmlDeviceGetMemoryInfo', 'memory'))
    gpu = _gpu(handle, 'nvmlDeviceGetMemoryInfo_v2')
    if 'memory_v2' not in gpu:
        # A driver older than R510 has no nvmlDeviceGetMemoryInfo_v2 symbol.
        raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND)
    if version != nvmlMemory_v2:
        raise NVMLError(NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
    return c_nvmlMemory_v2_t(version=version, **_field(handle, 'nvmlDeviceGetMemoryInfo_v2', 'memory_v2'))


def _next_call(function, handle):
    key = (function, handle.index)
    count = _state['calls'].get(key, 0)
    _state['calls'][key] = count + 1
    return count


def _in_turn(value, number):
    return value[number % len(value)] if isinstance(value, list) else value


def nvmlDeviceGetUtilizationRates(handle):
    gpu = _gpu(handle, 'nvmlDeviceGetUtilizationRates')
    series = gpu.get('utilization_series')
    if not series:
        return c_nvmlUtilization_t(**_field(handle, 'nvmlDeviceGetUtilizationRates', 'utilization'))
    return c_nvmlUtilization_t(**_in_turn(series, _next_call('nvmlDeviceGetUtilizationRates', handle)))


def nvmlDeviceGetProcessUtilization(handle, timeStamp):
    gpu = _gpu(handle, 'nvmlDeviceGetProcessUtilization')
    number = _next_call('nvmlDeviceGetProcessUtilization', handle)
    sampled = {}
    for proc in (gpu.get('compute_processes') or []) + (gpu.get('mps_processes') or []):
        if proc.get('sm_util') is not None:
            sampled.setdefault(proc['pid'], proc)
    # A new sample per call, stamped with the CPU time in microseconds as NVML does.
    _state['stamp'] = max(_state['stamp'] + 1, int(time.time() * 1000000))
    if not sampled or _state['stamp'] <= timeStamp:
        raise NVMLError(NVML_ERROR_NOT_FOUND)
    return [c_nvmlProcessUtilizationSample_t(
        pid=pid, timeStamp=_state['stamp'], smUtil=_in_turn(proc['sm_util'], number),
        memUtil=_in_turn(proc.get('mem_util', 0), number), encUtil=0, decUtil=0)
        for pid, proc in sorted(sampled.items())]


def nvmlDeviceGetTemperature(handle, sensor):
    if sensor != NVML_TEMPERATURE_GPU:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return _field(handle, 'nvmlDeviceGetTemperature', 'temperature')


def nvmlDeviceGetPowerUsage(handle):
    return _field(handle, 'nvmlDeviceGetPowerUsage', 'power_usage')


def nvmlDeviceGetComputeMode(handle):
    return _field(handle, 'nvmlDeviceGetComputeMode', 'compute_mode')


def nvmlDeviceGetPersistenceMode(handle):
    return _field(handle, 'nvmlDeviceGetPersistenceMode', 'persistence_mode')


def nvmlDeviceGetMigMode(device):
    current, pending = _field(device, 'nvmlDeviceGetMigMode', 'mig_mode')
    return [current, pending]


def _processes(handle, function, key):
    gpu = _gpu(handle, function)
    if key in gpu and gpu[key] is None:
        # A GPU whose NVML cannot list processes (Jetson/Tegra); an absent key is no process.
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return [c_nvmlProcessInfo_t(pid=proc['pid'], usedGpuMemory=proc.get('used_memory'))
            for proc in gpu.get(key, [])]


def nvmlDeviceGetComputeRunningProcesses(handle):
    return _processes(handle, 'nvmlDeviceGetComputeRunningProcesses', 'compute_processes')


def nvmlDeviceGetComputeRunningProcesses_v2(handle):
    return _processes(handle, 'nvmlDeviceGetComputeRunningProcesses_v2', 'compute_processes')


def nvmlDeviceGetMPSComputeRunningProcesses(handle):
    return _processes(handle, 'nvmlDeviceGetMPSComputeRunningProcesses', 'mps_processes')


def nvmlDeviceGetMPSComputeRunningProcesses_v2(handle):
    return _processes(handle, 'nvmlDeviceGetMPSComputeRunningProcesses_v2', 'mps_processes')


def _set(handle, function, key, value, allowed):
    gpu = _gpu(handle, function)
    if value not in allowed:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    if _device().get('deny_changes'):
        raise NVMLError(NVML_ERROR_NO_PERMISSION)
    if gpu.get(key) is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    gpu[key] = value
    _save()


def nvmlDeviceSetComputeMode(handle, mode):
    _set(handle, 'nvmlDeviceSetComputeMode', 'compute_mode', mode,
         (NVML_COMPUTEMODE_DEFAULT, NVML_COMPUTEMODE_PROHIBITED, NVML_COMPUTEMODE_EXCLUSIVE_PROCESS))


def nvmlDeviceSetPersistenceMode(handle, mode):
    _set(handle, 'nvmlDeviceSetPersistenceMode', 'persistence_mode', mode,
         (NVML_FEATURE_DISABLED, NVML_FEATURE_ENABLED))
