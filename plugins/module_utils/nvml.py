# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The only place in the collection that talks to NVML (through ``pynvml``).

Plain Python, no Ansible imports, so that modules, filters and tests share it.
Every NVML failure leaves this file as an ``NvmlError`` whose message an operator
can act on; fields a GPU does not support come back as ``None``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import time
import traceback
from contextlib import contextmanager

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules, units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import EdgeGpuError, InvalidOption

try:
    import pynvml
except ImportError:
    pynvml = None
    PYNVML_IMPORT_ERROR = traceback.format_exc()
else:
    PYNVML_IMPORT_ERROR = None

# nvidia-ml-py installs the module ``pynvml``; the PyPI project named "pynvml" is deprecated.
PYNVML_PACKAGE = 'nvidia-ml-py'

# NVML error codes are part of its C ABI; they are named here so that the messages
# exist even where pynvml itself is missing.
ERROR_UNINITIALIZED = 1
ERROR_NOT_SUPPORTED = 3
ERROR_NO_PERMISSION = 4
ERROR_NOT_FOUND = 6
ERROR_DRIVER_NOT_LOADED = 9
ERROR_LIBRARY_NOT_FOUND = 12
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_GPU_IS_LOST = 15
ERROR_RESET_REQUIRED = 16
ERROR_LIB_RM_VERSION_MISMATCH = 18
ERROR_ARGUMENT_VERSION_MISMATCH = 25

# (short kind, operator message); the message is completed with what was being done.
_ERRORS = {
    ERROR_LIBRARY_NOT_FOUND: (
        'library_not_found',
        'the NVML library (libnvidia-ml.so.1) was not found: the NVIDIA driver is not installed '
        'on this host, or its libraries are not on the dynamic loader path'),
    ERROR_DRIVER_NOT_LOADED: (
        'driver_not_loaded',
        'the NVIDIA kernel driver is not loaded (NVML: Driver Not Loaded): check that the nvidia '
        'kernel module is loaded (lsmod | grep nvidia) and matches the running kernel'),
    ERROR_NO_PERMISSION: (
        'no_permission',
        'NVML refused the request for lack of permission: run the task as root (become: true)'),
    ERROR_GPU_IS_LOST: (
        'gpu_lost',
        'a GPU stopped responding or fell off the bus (NVML: GPU is lost): the device needs a GPU '
        'reset or a reboot'),
    ERROR_RESET_REQUIRED: (
        'reset_required',
        'a GPU needs a reset before it can be used (NVML: GPU requires restart)'),
    ERROR_LIB_RM_VERSION_MISMATCH: (
        'version_mismatch',
        'the NVML library and the loaded kernel driver are different versions, usually after a '
        'driver update without a reboot: reboot the device'),
    ERROR_UNINITIALIZED: (
        'uninitialized',
        'NVML was used before it was initialised'),
    ERROR_FUNCTION_NOT_FOUND: (
        'function_not_found',
        'the installed NVIDIA driver is too old for this query (NVML: Function Not Found)'),
}

# Kinds that mean "this host has no usable NVML" rather than "something is broken".
UNAVAILABLE_KINDS = frozenset(('pynvml_missing', 'library_not_found', 'driver_not_loaded'))

COMPUTE_MODES = ('default', 'exclusive_process', 'prohibited')
_COMPUTE_MODE_CONSTANTS = {
    'default': 'NVML_COMPUTEMODE_DEFAULT',
    'exclusive_process': 'NVML_COMPUTEMODE_EXCLUSIVE_PROCESS',
    'prohibited': 'NVML_COMPUTEMODE_PROHIBITED',
}

MPS_SERVER_NAME = 'nvidia-cuda-mps-server'

# Sampling window bounds (gpu_info's sample_seconds / sample_interval), in seconds.
SAMPLE_SECONDS = (0.1, 3600)
SAMPLE_INTERVAL = (0.05, 60)
# Python's 0.3 / 0.1 is 2.9999999999999996: without this, a window would lose its last sample.
_SAMPLE_EPSILON = 1e-9


class NvmlError(EdgeGpuError):
    """An NVML failure, with a kind a caller can branch on and a message for people."""

    def __init__(self, kind, message, code=None):
        super(NvmlError, self).__init__(message, kind)
        self.code = code

    @property
    def unavailable(self):
        """True when the host simply has no usable NVML (no driver, no library, no pynvml)."""
        return self.kind in UNAVAILABLE_KINDS


def describe_error(exc, doing):
    """Turn a ``pynvml.NVMLError`` into an ``NvmlError`` saying what failed while ``doing``."""
    code = getattr(exc, 'value', None)
    kind, text = _ERRORS.get(code, ('nvml_error', 'NVML error %s (%s)' % (code, exc)))
    return NvmlError(kind, 'NVML failed while %s: %s' % (doing, text), code)


def text(value):
    """NVML strings are ``bytes`` in older nvidia-ml-py releases and ``str`` in newer ones."""
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace').rstrip('\x00')
    return value


# What a GPU or driver answers for a field it does not have. A GPU without the feature answers
# NOT_SUPPORTED; a driver older than the binding's call (a 470 driver and nvidia-ml-py's _v3
# process list), or a partial NVML such as Jetson/Tegra's, answers FUNCTION_NOT_FOUND; some
# calls answer NOT_FOUND for an object the GPU lacks (no PCI device on an integrated GPU).
_FIELD_ABSENT = (ERROR_NOT_SUPPORTED, ERROR_FUNCTION_NOT_FOUND, ERROR_NOT_FOUND)


def _is_not_supported(exc):
    return getattr(exc, 'value', None) in _FIELD_ABSENT


# The v2 memory call is absent from drivers older than R510 (FUNCTION_NOT_FOUND), may be refused
# like any field (NOT_SUPPORTED, NOT_FOUND), or may get a struct version the driver does not
# know (ARGUMENT_VERSION_MISMATCH): the v1 call answers then.
_MEMORY_V2_ABSENT = _FIELD_ABSENT + (ERROR_ARGUMENT_VERSION_MISMATCH,)
# nvmlDeviceGetProcessUtilization answers NOT_FOUND when no process has a sample newer than the
# time stamp; the binding turns a SUCCESS with no sample into NVMLError(0).
_NO_PROCESS_SAMPLES = (0, ERROR_NOT_FOUND)


def parse_sampling(sample_seconds, sample_interval):
    """``(seconds, interval)`` of a sampling window, or ``None`` for no sampling (``0`` seconds).

    Each value is checked even when sampling is off, so a typo is never silently ignored.
    """
    seconds = units.seconds(sample_seconds, 'sample_seconds', SAMPLE_SECONDS[0], SAMPLE_SECONDS[1], zero=True)
    interval = units.seconds(sample_interval, 'sample_interval', SAMPLE_INTERVAL[0], SAMPLE_INTERVAL[1])
    if not seconds:
        return None
    if interval > seconds:
        raise InvalidOption('sample_interval (%s) must not be longer than sample_seconds (%s)'
                            % (units.number_text(interval), units.number_text(seconds)))
    return seconds, interval


def sample_count(seconds, interval):
    """One sample at the start, then one every ``interval`` until ``seconds`` have passed."""
    return int(math.floor(seconds / interval + _SAMPLE_EPSILON)) + 1


def spread(values):
    """``{min, mean, max}`` of whole percentages, the mean rounded to one decimal."""
    return {'min': min(values), 'mean': round(sum(values) / float(len(values)), 1), 'max': max(values)}


def mean_or_zero(values):
    """The mean of a process's samples, 0.0 when the driver gave none in the window."""
    return round(sum(values) / float(len(values)), 1) if values else 0.0


class Window(object):
    """What one GPU's sampling window collected; ``Nvml.sample`` fills it, ``Nvml.gpu`` reads it.

    ``readings`` is ``None`` when the GPU has no utilization counters; ``process_samples`` is
    ``None`` when the driver has no per-process utilization (or processes were not sampled),
    else ``{(pid, time stamp): (sm, memory)}`` (the key drops samples read twice).
    """

    def __init__(self, since, processes):
        # since: NVML's time stamp (microseconds) of the window's start.
        self.readings = []
        self.process_samples = {} if processes else None
        self.start = self.since = since
        self.seconds = 0.0

    def utilization(self):
        """The GPU's ``utilization_sampled`` value."""
        if not self.readings:
            return None
        return {
            'samples': len(self.readings),
            'seconds': round(self.seconds, 3),
            'gpu': spread([reading['gpu'] for reading in self.readings]),
            'memory': spread([reading['memory'] for reading in self.readings]),
        }

    def process_utilization(self, pid):
        """A process's ``utilization`` value."""
        if self.process_samples is None:
            return None
        mine = [sample for (sample_pid, _stamp), sample in self.process_samples.items() if sample_pid == pid]
        return {'sm': mean_or_zero([sm for sm, _memory in mine]),
                'memory': mean_or_zero([memory for _sm, memory in mine])}


class Nvml(object):
    """An initialised NVML session; get one from ``nvml_session()``."""

    def __init__(self, lib):
        self.lib = lib

    def call(self, doing, func, *args):
        """Call an NVML function; any NVML error becomes an ``NvmlError``."""
        try:
            return func(*args)
        except self.lib.NVMLError as exc:
            raise describe_error(exc, doing)

    def optional(self, doing, func, *args):
        """Like ``call`` but a field the GPU or driver does not support reads as ``None``."""
        try:
            return func(*args)
        except self.lib.NVMLError as exc:
            if _is_not_supported(exc):
                return None
            raise describe_error(exc, doing)

    # ---- system -------------------------------------------------------------------------

    def system(self):
        lib = self.lib
        cuda = self.optional('reading the CUDA driver version', lib.nvmlSystemGetCudaDriverVersion)
        return {
            'driver_version': text(self.optional('reading the driver version', lib.nvmlSystemGetDriverVersion)),
            'cuda_driver_version': cuda_version_string(cuda),
            'nvml_version': text(self.optional('reading the NVML version', lib.nvmlSystemGetNVMLVersion)),
        }

    def driver_version(self):
        """The driver version alone (``None`` where NVML does not tell)."""
        return text(self.optional('reading the driver version', self.lib.nvmlSystemGetDriverVersion))

    # ---- devices ------------------------------------------------------------------------

    def count(self):
        return self.call('counting GPUs', self.lib.nvmlDeviceGetCount)

    def handle(self, index):
        return self.call('opening GPU %d' % index, self.lib.nvmlDeviceGetHandleByIndex, index)

    def uuid(self, index, handle):
        return text(self.call('reading the UUID of GPU %d' % index, self.lib.nvmlDeviceGetUUID, handle))

    def select(self, selection, option='gpus'):
        """Open every GPU and resolve ``selection`` (from ``gpus.parse_selection``).

        Returns ``(handles, uuids, indexes)``: a handle and UUID per GPU of the host, and the
        selected indexes in device order. ``InvalidOption`` names selectors that match no GPU.
        """
        handles = [self.handle(index) for index in range(self.count())]
        uuids = [self.uuid(index, handle) for index, handle in enumerate(handles)]
        return handles, uuids, gpu_rules.resolve(selection, uuids, option)

    def compute_mode(self, index, handle):
        value = self.optional('reading the compute mode of GPU %d' % index, self.lib.nvmlDeviceGetComputeMode, handle)
        return self.compute_mode_name(value)

    def compute_mode_name(self, value):
        if value is None:
            return None
        for name, constant in _COMPUTE_MODE_CONSTANTS.items():
            if getattr(self.lib, constant) == value:
                return name
        return 'unknown(%s)' % value

    def compute_mode_value(self, name):
        return getattr(self.lib, _COMPUTE_MODE_CONSTANTS[name])

    def persistence_mode(self, index, handle):
        value = self.optional('reading the persistence mode of GPU %d' % index, self.lib.nvmlDeviceGetPersistenceMode, handle)
        return None if value is None else value == self.lib.NVML_FEATURE_ENABLED

    def mig_mode(self, index, handle):
        modes = self.optional('reading the MIG mode of GPU %d' % index, self.lib.nvmlDeviceGetMigMode, handle)
        if modes is None:
            return None
        current, pending = modes
        return {'current': self._mig_state(current), 'pending': self._mig_state(pending)}

    def _mig_state(self, value):
        return 'enabled' if value == self.lib.NVML_DEVICE_MIG_ENABLE else 'disabled'

    def set_compute_mode(self, index, handle, name):
        self.call('setting the compute mode of GPU %d to %s' % (index, name),
                  self.lib.nvmlDeviceSetComputeMode, handle, self.compute_mode_value(name))

    def set_persistence_mode(self, index, handle, enabled):
        value = self.lib.NVML_FEATURE_ENABLED if enabled else self.lib.NVML_FEATURE_DISABLED
        self.call('turning persistence mode of GPU %d %s' % (index, 'on' if enabled else 'off'),
                  self.lib.nvmlDeviceSetPersistenceMode, handle, value)

    def memory(self, index, handle):
        """``{total, used, free, reserved}`` in bytes, ``None`` where NVML has no memory info.

        The v2 call counts the memory the driver reserves apart from ``used``, as ``nvidia-smi``
        shows it; where the binding (no ``nvmlMemory_v2``) or the driver lacks it, v1's ``used``
        includes that reserve and ``reserved`` is ``None``.
        """
        doing = 'reading the memory info of GPU %d' % index
        version = getattr(self.lib, 'nvmlMemory_v2', None)
        if version is not None:
            try:
                info = self.lib.nvmlDeviceGetMemoryInfo(handle, version=version)
            except self.lib.NVMLError as exc:
                if getattr(exc, 'value', None) not in _MEMORY_V2_ABSENT:
                    raise describe_error(exc, doing)
            else:
                return {'total': info.total, 'used': info.used, 'free': info.free, 'reserved': info.reserved}
        info = self.optional(doing, self.lib.nvmlDeviceGetMemoryInfo, handle)
        if info is None:
            return None
        return {'total': info.total, 'used': info.used, 'free': info.free, 'reserved': None}

    def utilization(self, index, handle):
        """One instant reading ``{gpu, memory}`` in percent, ``None`` where not supported."""
        reading = self.optional('reading the utilization of GPU %d' % index,
                                self.lib.nvmlDeviceGetUtilizationRates, handle)
        return None if reading is None else {'gpu': reading.gpu, 'memory': reading.memory}

    def process_samples(self, index, handle, since):
        """Per-process utilization samples newer than ``since`` (microseconds, NVML's CPU time
        stamp): a list, empty when there is none, ``None`` where the driver has no such call."""
        call = getattr(self.lib, 'nvmlDeviceGetProcessUtilization', None)
        if call is None:
            return None
        try:
            return list(call(handle, since) or [])
        except self.lib.NVMLError as exc:
            code = getattr(exc, 'value', None)
            if code in _NO_PROCESS_SAMPLES:
                return []
            if code in (ERROR_NOT_SUPPORTED, ERROR_FUNCTION_NOT_FOUND):
                return None
            raise describe_error(exc, 'reading the process utilization of GPU %d' % index)

    def sample(self, targets, seconds, interval, processes=True, clock=None, sleep=None, wall=None):
        """Poll the utilization of every ``(index, handle)`` in ``targets`` over one window.

        One sample at the start, then one every ``interval`` until ``seconds`` have passed
        (``sample_count`` samples: a late poll is taken at once, never skipped). With
        ``processes``, each poll also collects the per-process samples the driver gathered since
        the last one. Returns ``{index: Window}``. ``clock``/``sleep``/``wall`` (default: the
        ``time`` module's ``monotonic``/``sleep``/``time``) are for tests.
        """
        if not targets:
            return {}
        # time.monotonic does not move back when the clock is set; Python 2 lacks it.
        clock, sleep, wall = clock or getattr(time, 'monotonic', time.time), sleep or time.sleep, wall or time.time
        start_stamp = int(wall() * 1000000)
        windows = dict((index, Window(start_stamp, processes)) for index, _handle in targets)
        start = clock()
        first = last = None
        for number in range(sample_count(seconds, interval)):
            delay = start + number * interval - clock()
            if delay > 0:
                sleep(delay)
            last = clock()
            first = last if first is None else first
            for index, handle in targets:
                self._poll(index, handle, windows[index])
        for window in windows.values():
            window.seconds = last - first
        return windows

    def _poll(self, index, handle, window):
        if window.readings is not None:
            reading = self.utilization(index, handle)
            if reading is None:
                # No utilization counters (a MIG-enabled GPU, Jetson): nothing to sample.
                window.readings = None
            else:
                window.readings.append(reading)
        if window.process_samples is not None:
            samples = self.process_samples(index, handle, window.since)
            if samples is None:
                window.process_samples = None
                return
            for item in samples:
                # A driver may hand back older samples than asked for: only the window's count.
                if item.timeStamp > window.start:
                    window.process_samples[(item.pid, item.timeStamp)] = (item.smUtil, item.memUtil)
                    window.since = max(window.since, item.timeStamp)

    def gpu(self, index, handle, with_processes=True, window=None):
        """Everything the collection reports about one GPU, as plain data; ``window`` is what
        ``sample`` collected for it (``None``: not sampled)."""
        lib = self.lib
        doing = 'reading %%s of GPU %d' % index
        # An integrated GPU (Jetson/Tegra) has no PCI device: its bus id is None, not an error.
        pci = self.optional(doing % 'the PCI info', lib.nvmlDeviceGetPciInfo, handle)
        capability = self.optional(doing % 'the compute capability', lib.nvmlDeviceGetCudaComputeCapability, handle)
        power = self.optional(doing % 'the power draw', lib.nvmlDeviceGetPowerUsage, handle)
        gpu = {
            'index': index,
            'name': text(self.optional(doing % 'the name', lib.nvmlDeviceGetName, handle)),
            'uuid': self.uuid(index, handle),
            'pci_bus_id': None if pci is None else text(pci.busId),
            'compute_capability': None if capability is None else '%d.%d' % tuple(capability),
            'memory': self.memory(index, handle),
            'utilization': self.utilization(index, handle),
            'utilization_sampled': None if window is None else window.utilization(),
            'temperature': self.optional(doing % 'the temperature', lib.nvmlDeviceGetTemperature,
                                         handle, lib.NVML_TEMPERATURE_GPU),
            # NVML reports milliwatts; nvidia-smi and operators think in watts.
            'power_draw': None if power is None else power / 1000.0,
            'compute_mode': self.compute_mode(index, handle),
            'persistence_mode': self.persistence_mode(index, handle),
            'mig_mode': self.mig_mode(index, handle),
        }
        if with_processes:
            gpu['processes'] = self.processes(index, handle, window)
        return gpu

    def processes(self, index, handle, window=None):
        """Compute processes on a GPU, typed the way nvidia-smi types them (``C`` / ``M+C``);
        ``None`` where NVML cannot list them (for example on Jetson/Tegra). Each has the mean
        utilization of ``window``'s samples, ``None`` unless sampled where the driver has them."""
        compute = self._process_list(index, handle, 'compute', 'nvmlDeviceGetComputeRunningProcesses')
        mps_clients = self._process_list(index, handle, 'MPS client', 'nvmlDeviceGetMPSComputeRunningProcesses')
        if compute is None and mps_clients is None:
            return None
        compute, mps_clients = compute or [], mps_clients or []
        mps_pids = set(proc.pid for proc in mps_clients)
        by_pid = {}
        for proc in list(compute) + list(mps_clients):
            by_pid.setdefault(proc.pid, proc)
        result = []
        for pid in sorted(by_pid):
            name = self.process_name(pid)
            result.append({
                'pid': pid,
                'name': name,
                'used_memory': by_pid[pid].usedGpuMemory,
                'type': 'M+C' if pid in mps_pids else 'C',
                'mps_server': bool(name) and name.rsplit('/', 1)[-1] == MPS_SERVER_NAME,
                'utilization': None if window is None else window.process_utilization(pid),
            })
        return result

    def _process_list(self, index, handle, kind, function):
        """A process list, from the binding's newest call or, on drivers older than that
        call (FUNCTION_NOT_FOUND), from its ``_v2`` form, so no running process is missed;
        ``None`` when neither is supported."""
        doing = 'listing %s processes on GPU %d' % (kind, index)
        for name in (function, function + '_v2'):
            call = getattr(self.lib, name, None)
            if call is None:
                continue
            try:
                return call(handle) or []
            except self.lib.NVMLError as exc:
                if getattr(exc, 'value', None) == ERROR_FUNCTION_NOT_FOUND:
                    continue
                if _is_not_supported(exc):
                    return None
                raise describe_error(exc, doing)
        return None

    def process_name(self, pid):
        try:
            return text(self.lib.nvmlSystemGetProcessName(pid))
        except self.lib.NVMLError:
            # The process may have exited since the list was read, or belong to another
            # container's PID namespace: its name is unknown, which is not an error.
            return None


def cuda_version_string(value):
    """NVML encodes CUDA 12.2 as 12020."""
    if value is None:
        return None
    return '%d.%d' % (value // 1000, (value % 1000) // 10)


@contextmanager
def nvml_session():
    """Initialise NVML once, yield an ``Nvml``, and always shut it down again."""
    if pynvml is None:
        raise NvmlError('pynvml_missing', 'the Python module pynvml (package %s) is not installed' % PYNVML_PACKAGE)
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise describe_error(exc, 'initialising')
    try:
        yield Nvml(pynvml)
    except pynvml.NVMLError as exc:
        raise describe_error(exc, 'querying the GPUs')
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            # A failed shutdown must not hide the answer (or the error) already obtained.
            pass
