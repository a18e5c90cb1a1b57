# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import nvml


def read_all(with_processes=True):
    with nvml.nvml_session() as session:
        system = session.system()
        gpus = [session.gpu(index, session.handle(index), with_processes) for index in range(session.count())]
    return system, gpus


def test_every_field_of_every_gpu(fake_device, device_data):
    fake_device.use('t4_dual')
    system, gpus = read_all()
    source = device_data('t4_dual')

    assert system == {'driver_version': '535.261.03', 'cuda_driver_version': '12.2', 'nvml_version': '12.535.261.03'}
    assert len(gpus) == 2
    for index, (gpu, raw) in enumerate(zip(gpus, source['gpus'])):
        assert gpu['index'] == index
        assert gpu['name'] == 'Tesla T4'
        assert gpu['uuid'] == raw['uuid']
        assert gpu['pci_bus_id'] == raw['pci_bus_id']
        assert gpu['compute_capability'] == '7.5'
        # The v2 call where the driver has it: used as nvidia-smi shows it, the reserve apart.
        assert gpu['memory'] == raw['memory_v2']
        assert gpu['memory']['used'] + gpu['memory']['reserved'] == raw['memory']['used']
        # The first reading of the session (the series starts with the instant value).
        assert gpu['utilization'] == raw['utilization_series'][0]
        assert gpu['utilization_sampled'] is None
        assert gpu['temperature'] == raw['temperature']
        assert gpu['power_draw'] == pytest.approx(raw['power_usage'] / 1000.0)
        assert gpu['persistence_mode'] is True
        assert gpu['mig_mode'] is None
    assert [gpu['compute_mode'] for gpu in gpus] == ['default', 'exclusive_process']
    assert gpus[0]['processes'] == []
    assert gpus[1]['processes'] == [
        {'pid': 3100, 'name': 'nvidia-cuda-mps-server', 'used_memory': 32 * 1024 * 1024, 'type': 'C', 'mps_server': True,
         'utilization': None},
        {'pid': 3201, 'name': '/usr/bin/python3', 'used_memory': 1184 * 1024 * 1024, 'type': 'M+C', 'mps_server': False,
         'utilization': None},
        {'pid': 3202, 'name': '/usr/bin/python3', 'used_memory': 1184 * 1024 * 1024, 'type': 'M+C', 'mps_server': False,
         'utilization': None},
    ]


def test_driver_without_the_v2_memory_call_gives_v1_without_reserved(fake_device, device_data):
    fake_device.use('t4_legacy_bindings')
    raw = device_data('t4_legacy_bindings')['gpus'][0]
    assert 'memory_v2' not in raw
    _system, gpus = read_all()
    assert gpus[0]['memory'] == dict(raw['memory'], reserved=None)


def test_binding_without_nvmlMemory_v2_never_asks_for_v2(fake_device, device_data, monkeypatch):
    fake_device.use('t4_single')
    lib = fake_device.lib
    monkeypatch.delattr(lib, 'nvmlMemory_v2')
    versions = []
    real_call = lib.nvmlDeviceGetMemoryInfo

    def spy(handle, version=None):
        versions.append(version)
        return real_call(handle, version)
    monkeypatch.setattr(lib, 'nvmlDeviceGetMemoryInfo', spy)
    _system, gpus = read_all()
    assert versions == [None]
    assert gpus[0]['memory'] == dict(device_data('t4_single')['gpus'][0]['memory'], reserved=None)


def test_v2_memory_excludes_the_reserve_from_used(fake_device, device_data):
    data = device_data('t4_single')
    data['gpus'][0]['memory_v2'] = {'total': 100, 'reserved': 7, 'used': 3, 'free': 90}
    data['gpus'][0]['memory'] = {'total': 100, 'used': 10, 'free': 90}
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[0]['memory'] == {'total': 100, 'used': 3, 'free': 90, 'reserved': 7}


@pytest.mark.parametrize('error', ['NVML_ERROR_FUNCTION_NOT_FOUND', 'NVML_ERROR_NOT_SUPPORTED', 'NVML_ERROR_NOT_FOUND',
                                   'NVML_ERROR_ARGUMENT_VERSION_MISMATCH'])
def test_v2_memory_refused_falls_back_to_v1(fake_device, device_data, error):
    data = device_data('t4_dual')
    data['gpus'][1]['errors'] = {'nvmlDeviceGetMemoryInfo_v2': error}
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[1]['memory'] == dict(data['gpus'][1]['memory'], reserved=None)
    assert gpus[0]['memory'] == data['gpus'][0]['memory_v2']


def test_v2_memory_failure_is_not_hidden_by_the_fallback(fake_device, device_data):
    data = device_data('t4_single')
    data['gpus'][0]['errors'] = {'nvmlDeviceGetMemoryInfo_v2': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    with pytest.raises(nvml.NvmlError) as info:
        read_all()
    assert info.value.kind == 'gpu_lost'
    assert 'reading the memory info of GPU 0' in str(info.value)


def test_mig_mode_and_unsupported_utilization_on_a100(fake_device):
    fake_device.use('a100_mig')
    _system, gpus = read_all()
    assert gpus[0]['mig_mode'] == {'current': 'enabled', 'pending': 'enabled'}
    assert gpus[0]['utilization'] is None
    assert gpus[0]['compute_capability'] == '8.0'


def test_pending_mig_change_is_reported(fake_device, device_data):
    data = device_data('a100_mig')
    data['gpus'][0]['mig_mode'] = [1, 0]
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[0]['mig_mode'] == {'current': 'enabled', 'pending': 'disabled'}


def test_old_bindings_answering_bytes_are_normalised(fake_device):
    fake_device.use('t4_legacy_bindings')
    system, gpus = read_all()
    assert system['driver_version'] == '470.256.02'
    assert system['cuda_driver_version'] == '11.4'
    assert isinstance(gpus[0]['name'], str) and gpus[0]['name'] == 'Tesla T4'
    assert gpus[0]['uuid'] == 'GPU-4f5a6b7c-8d9e-0fa1-b2c3-d4e5f6a7b8c9'
    assert gpus[0]['processes'][0]['name'] == 'legacy-app'


def test_unsupported_fields_are_null_not_failures(fake_device):
    fake_device.use('t4_legacy_bindings')
    _system, gpus = read_all()
    assert gpus[0]['temperature'] is None
    assert gpus[0]['power_draw'] is None
    assert gpus[0]['compute_mode'] == 'prohibited'
    assert gpus[0]['persistence_mode'] is False


def test_unknown_process_name_and_memory_are_null(fake_device):
    fake_device.use('t4_legacy_bindings')
    _system, gpus = read_all()
    by_pid = dict((proc['pid'], proc) for proc in gpus[0]['processes'])
    assert by_pid[999]['used_memory'] is None
    assert by_pid[1000]['name'] is None
    assert by_pid[1000]['mps_server'] is False


def test_processes_can_be_skipped(fake_device):
    fake_device.use('t4_single_busy')
    _system, gpus = read_all(with_processes=False)
    assert 'processes' not in gpus[0]


def test_mps_only_process_is_listed_as_client(fake_device, device_data):
    data = device_data('t4_single')
    data['gpus'][0]['mps_processes'] = [{'pid': 77, 'used_memory': 1}]
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[0]['processes'] == [{'pid': 77, 'name': None, 'used_memory': 1, 'type': 'M+C', 'mps_server': False,
                                     'utilization': None}]


def test_old_driver_process_lists_come_from_the_v2_calls(fake_device, device_data):
    data = device_data('t4_dual')
    data['gpus'][1]['errors'] = {
        'nvmlDeviceGetComputeRunningProcesses': 'NVML_ERROR_FUNCTION_NOT_FOUND',
        'nvmlDeviceGetMPSComputeRunningProcesses': 'NVML_ERROR_FUNCTION_NOT_FOUND',
        'nvmlDeviceGetMigMode': 'NVML_ERROR_FUNCTION_NOT_FOUND',
    }
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[1]['mig_mode'] is None
    assert [(proc['pid'], proc['type']) for proc in gpus[1]['processes']] == [(3100, 'C'), (3201, 'M+C'), (3202, 'M+C')]


def test_driver_without_any_process_call_reports_processes_unknown(fake_device, device_data):
    data = device_data('t4_single_busy')
    data['gpus'][0]['errors'] = dict((name, 'NVML_ERROR_FUNCTION_NOT_FOUND') for name in (
        'nvmlDeviceGetComputeRunningProcesses', 'nvmlDeviceGetComputeRunningProcesses_v2',
        'nvmlDeviceGetMPSComputeRunningProcesses', 'nvmlDeviceGetMPSComputeRunningProcesses_v2'))
    fake_device.write(data)
    _system, gpus = read_all()
    # Busy, but NVML cannot say so: None (unknown), never an empty list that claims no process.
    assert gpus[0]['processes'] is None


def test_process_list_failure_names_the_gpu(fake_device, device_data):
    data = device_data('t4_single_busy')
    data['gpus'][0]['errors'] = {'nvmlDeviceGetComputeRunningProcesses': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    with pytest.raises(nvml.NvmlError) as info:
        read_all()
    assert 'listing compute processes on GPU 0' in str(info.value) and info.value.kind == 'gpu_lost'


def test_unsupported_cuda_version_and_process_lists(fake_device, device_data):
    data = device_data('t4_single')
    data['cuda_driver_version'] = None
    data['gpus'][0]['errors'] = {
        'nvmlDeviceGetComputeRunningProcesses': 'NVML_ERROR_NOT_SUPPORTED',
        'nvmlDeviceGetMPSComputeRunningProcesses': 'NVML_ERROR_NOT_SUPPORTED',
    }
    fake_device.write(data)
    system, gpus = read_all()
    assert system['cuda_driver_version'] is None
    assert gpus[0]['processes'] is None


def test_mps_list_unsupported_keeps_the_compute_list(fake_device, device_data):
    data = device_data('t4_single_busy')
    data['gpus'][0]['errors'] = {'nvmlDeviceGetMPSComputeRunningProcesses': 'NVML_ERROR_NOT_SUPPORTED'}
    fake_device.write(data)
    _system, gpus = read_all()
    pids = sorted(proc['pid'] for proc in data['gpus'][0]['compute_processes'])
    assert [proc['pid'] for proc in gpus[0]['processes']] == pids
    assert set(proc['type'] for proc in gpus[0]['processes']) == {'C'}


# Every per-GPU field gpu_info returns, and the NVML calls behind it (the fake's error names).
PARTIAL_FIELDS = {
    'name': 'nvmlDeviceGetName', 'pci_bus_id': 'nvmlDeviceGetPciInfo',
    'compute_capability': 'nvmlDeviceGetCudaComputeCapability',
    'memory': ('nvmlDeviceGetMemoryInfo', 'nvmlDeviceGetMemoryInfo_v2'),
    'utilization': 'nvmlDeviceGetUtilizationRates', 'temperature': 'nvmlDeviceGetTemperature',
    'power_draw': 'nvmlDeviceGetPowerUsage', 'compute_mode': 'nvmlDeviceGetComputeMode',
    'persistence_mode': 'nvmlDeviceGetPersistenceMode', 'mig_mode': 'nvmlDeviceGetMigMode',
}


@pytest.mark.parametrize('error', ['NVML_ERROR_NOT_SUPPORTED', 'NVML_ERROR_NOT_FOUND', 'NVML_ERROR_FUNCTION_NOT_FOUND'])
@pytest.mark.parametrize('field', sorted(PARTIAL_FIELDS))
def test_each_field_a_partial_nvml_lacks_is_none(fake_device, device_data, field, error):
    data = device_data('t4_single_busy')
    calls = PARTIAL_FIELDS[field]
    data['gpus'][0]['errors'] = dict((call, error) for call in (calls if isinstance(calls, tuple) else (calls,)))
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[0][field] is None
    assert gpus[0]['uuid'] == data['gpus'][0]['uuid']
    others = [name for name in PARTIAL_FIELDS if name != field and gpus[0][name] is None]
    assert others == ['mig_mode'] or others == []


@pytest.mark.parametrize('error', ['NVML_ERROR_NOT_SUPPORTED', 'NVML_ERROR_NOT_FOUND', 'NVML_ERROR_FUNCTION_NOT_FOUND'])
def test_system_fields_a_partial_nvml_lacks_are_none(fake_device, device_data, monkeypatch, error):
    fake_device.use('t4_single')
    lib = fake_device.lib

    def refuse(*_args):
        raise lib.NVMLError(getattr(lib, error))
    for name in ('nvmlSystemGetDriverVersion', 'nvmlSystemGetCudaDriverVersion', 'nvmlSystemGetNVMLVersion'):
        monkeypatch.setattr(lib, name, refuse)
    system, _gpus = read_all()
    assert system == {'driver_version': None, 'cuda_driver_version': None, 'nvml_version': None}


def test_jetson_class_device_answers_identity_and_none_elsewhere(fake_device, device_data):
    fake_device.use('jetson_orin')
    raw = device_data('jetson_orin')['gpus'][0]
    system, gpus = read_all()
    assert system['nvml_version'] is None and system['driver_version'] == device_data('jetson_orin')['driver_version']
    assert gpus[0]['uuid'] == raw['uuid'] and gpus[0]['name'] == raw['name']
    assert gpus[0]['compute_capability'] == '%d.%d' % tuple(raw['compute_capability'])
    for field in sorted(PARTIAL_FIELDS):
        if field not in ('name', 'compute_capability'):
            assert gpus[0][field] is None, field
    assert gpus[0]['processes'] is None


@pytest.mark.parametrize('error, kind, words', [
    ('NVML_ERROR_LIBRARY_NOT_FOUND', 'library_not_found', 'libnvidia-ml.so.1'),
    ('NVML_ERROR_DRIVER_NOT_LOADED', 'driver_not_loaded', 'kernel driver is not loaded'),
    ('NVML_ERROR_NO_PERMISSION', 'no_permission', 'as root'),
    ('NVML_ERROR_GPU_IS_LOST', 'gpu_lost', 'GPU is lost'),
    ('NVML_ERROR_RESET_REQUIRED', 'reset_required', 'needs a reset'),
    ('NVML_ERROR_LIB_RM_VERSION_MISMATCH', 'version_mismatch', 'reboot the device'),
    ('NVML_ERROR_UNINITIALIZED', 'uninitialized', 'before it was initialised'),
    ('NVML_ERROR_FUNCTION_NOT_FOUND', 'function_not_found', 'driver is too old'),
    ('NVML_ERROR_UNKNOWN', 'nvml_error', 'NVML error 999 (Unknown Error)'),
])
def test_each_init_error_class_has_its_message(fake_device, error, kind, words):
    fake_device.use('no_gpu', init_error=error)
    with pytest.raises(nvml.NvmlError) as info:
        with nvml.nvml_session():
            pass
    assert info.value.kind == kind
    assert str(info.value).startswith('NVML failed while initialising: ')
    assert words in str(info.value)
    assert info.value.unavailable == (kind in ('library_not_found', 'driver_not_loaded'))
    assert fake_device.initialised == 0


def test_error_during_query_names_the_gpu_and_still_shuts_down(fake_device, device_data):
    data = device_data('t4_dual')
    data['gpus'][1]['errors'] = {'nvmlDeviceGetTemperature': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    with pytest.raises(nvml.NvmlError) as info:
        read_all()
    assert info.value.kind == 'gpu_lost'
    assert 'reading the temperature of GPU 1' in str(info.value)
    assert fake_device.initialised == 0


def test_raw_nvml_error_in_the_session_body_is_translated(fake_device):
    fake_device.use('t4_single')
    with pytest.raises(nvml.NvmlError) as info:
        with nvml.nvml_session() as session:
            session.lib.nvmlDeviceGetHandleByIndex(5)
    assert 'querying the GPUs' in str(info.value)
    assert fake_device.initialised == 0


def test_failed_shutdown_does_not_hide_the_answer(fake_device, monkeypatch):
    fake_device.use('t4_single')

    def broken_shutdown():
        raise fake_device.lib.NVMLError(fake_device.lib.NVML_ERROR_UNKNOWN)
    monkeypatch.setattr(fake_device.lib, 'nvmlShutdown', broken_shutdown)
    with nvml.nvml_session() as session:
        count = session.count()
    assert count == 1


def test_missing_pynvml_is_its_own_error(monkeypatch):
    monkeypatch.setattr(nvml, 'pynvml', None)
    with pytest.raises(nvml.NvmlError) as info:
        with nvml.nvml_session():
            pass
    assert info.value.kind == 'pynvml_missing'
    assert 'nvidia-ml-py' in str(info.value)
    assert info.value.unavailable


def test_unknown_compute_mode_value_is_shown_raw(fake_device, device_data):
    data = device_data('t4_single')
    data['gpus'][0]['compute_mode'] = 1
    fake_device.write(data)
    _system, gpus = read_all()
    assert gpus[0]['compute_mode'] == 'unknown(1)'


def test_compute_mode_names_round_trip(fake_device):
    fake_device.use('t4_single')
    with nvml.nvml_session() as session:
        for name in nvml.COMPUTE_MODES:
            assert session.compute_mode_name(session.compute_mode_value(name)) == name


@pytest.mark.parametrize('raw, text', [(b'Tesla T4\x00', 'Tesla T4'), ('Tesla T4', 'Tesla T4'), (None, None)])
def test_text(raw, text):
    assert nvml.text(raw) == text


@pytest.mark.parametrize('value, version', [(12020, '12.2'), (11040, '11.4'), (13000, '13.0'), (None, None)])
def test_cuda_version_string(value, version):
    assert nvml.cuda_version_string(value) == version
