# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Utilization sampling (gpu_info's sample_seconds / sample_interval) on a fake clock."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import nvml
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption


class FakeClock(object):
    """A monotonic clock that only moves when slept on (or when a test moves it)."""

    def __init__(self, wall_start=1700000000.0):
        self.now = 0.0
        self.sleeps = []
        self.wall_start = wall_start

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds

    def wall(self):
        return self.wall_start + self.now


def sample(clock, seconds, interval, processes=True, indexes=None):
    """Sample a window then read the GPUs, in one session, as gpu_info does."""
    with nvml.nvml_session() as session:
        count = session.count()
        handles = [session.handle(index) for index in range(count)]
        targets = [(index, handles[index]) for index in (range(count) if indexes is None else indexes)]
        windows = session.sample(targets, seconds, interval, processes, clock=clock.clock, sleep=clock.sleep,
                                 wall=clock.wall)
        return [session.gpu(index, handles[index], processes, windows.get(index)) for index, _handle in targets]


def expected_spread(values):
    return {'min': min(values), 'mean': round(sum(values) / float(len(values)), 1), 'max': max(values)}


def cycled(series, count):
    return [series[number % len(series)] for number in range(count)]


@pytest.mark.parametrize('seconds, interval, count', [
    (0.2, 0.1, 3), (0.3, 0.1, 4), (0.7, 0.1, 8), (1, 1, 2), (5, 1, 6), (2.5, 1, 3), (0.1, 0.1, 2), (3600, 60, 61),
    (1, 0.3, 4), (0.15, 0.05, 4),
])
def test_sample_count_is_one_at_the_start_then_one_per_interval(seconds, interval, count):
    assert nvml.sample_count(seconds, interval) == count


def test_window_gives_min_mean_max_of_each_gpus_series(fake_device, device_data):
    fake_device.use('t4_dual')
    raw = device_data('t4_dual')['gpus']
    clock = FakeClock()
    gpus = sample(clock, 4, 1)
    # Five samples, 1 s apart: a sleep before each but the first, none after the last.
    assert clock.sleeps == [1.0] * 4
    for gpu, source in zip(gpus, raw):
        readings = cycled(source['utilization_series'], 5)
        assert gpu['utilization_sampled'] == {
            'samples': 5, 'seconds': 4.0,
            'gpu': expected_spread([reading['gpu'] for reading in readings]),
            'memory': expected_spread([reading['memory'] for reading in readings]),
        }
    assert gpus[1]['utilization_sampled']['gpu'] == {'min': 15, 'mean': 59.4, 'max': 97}


def test_constant_utilization_without_a_series(fake_device, device_data):
    fake_device.use('t4_single')
    value = device_data('t4_single')['gpus'][0]['utilization']
    gpus = sample(FakeClock(), 0.2, 0.1)
    assert gpus[0]['utilization_sampled'] == {
        'samples': 3, 'seconds': 0.2,
        'gpu': {'min': value['gpu'], 'mean': float(value['gpu']), 'max': value['gpu']},
        'memory': {'min': value['memory'], 'mean': float(value['memory']), 'max': value['memory']},
    }


def test_late_polls_are_taken_at_once_and_never_skipped(fake_device, device_data, monkeypatch):
    fake_device.use('t4_single_busy')
    series = device_data('t4_single_busy')['gpus'][0]['utilization_series']
    lib = fake_device.lib
    clock = FakeClock()
    real_read = lib.nvmlDeviceGetUtilizationRates

    def slow_read(handle):
        clock.now += 0.25  # each read takes longer than the interval
        return real_read(handle)
    monkeypatch.setattr(lib, 'nvmlDeviceGetUtilizationRates', slow_read)
    gpus = sample(clock, 0.3, 0.1)
    assert clock.sleeps == []
    window = gpus[0]['utilization_sampled']
    assert window['samples'] == 4
    # Measured from the first sample to the last: three late reads of 0.25 s.
    assert window['seconds'] == 0.75
    assert window['gpu'] == expected_spread([reading['gpu'] for reading in cycled(series, 4)])


def test_a_late_start_shortens_the_next_wait(fake_device):
    fake_device.use('t4_single')
    clock = FakeClock()
    real_sleep = clock.sleep

    def oversleep(seconds):
        real_sleep(seconds)
        clock.now += 0.3  # the first wait overran
    clock.sleep = oversleep
    sample(clock, 3, 1)
    # Samples are due at 0, 1, 2 and 3 s from the start; the overrun is taken from the next wait.
    assert clock.sleeps == [1.0, pytest.approx(0.7), pytest.approx(0.7)]


def test_gpu_without_utilization_is_not_sampled(fake_device):
    fake_device.use('a100_mig')
    gpus = sample(FakeClock(), 1, 0.5)
    assert gpus[0]['utilization'] is None
    assert gpus[0]['utilization_sampled'] is None


def test_no_sampling_gives_null(fake_device):
    fake_device.use('t4_single_busy')
    with nvml.nvml_session() as session:
        gpu = session.gpu(0, session.handle(0))
    assert gpu['utilization_sampled'] is None
    assert [proc['utilization'] for proc in gpu['processes']] == [None, None]


def test_no_targets_means_no_waiting(fake_device):
    fake_device.use('t4_single')
    clock = FakeClock()
    with nvml.nvml_session() as session:
        assert session.sample([], 10, 1, clock=clock.clock, sleep=clock.sleep, wall=clock.wall) == {}
    assert clock.sleeps == []


def test_failure_while_sampling_names_the_gpu_and_shuts_nvml_down(fake_device, device_data):
    data = device_data('t4_dual')
    data['gpus'][1]['errors'] = {'nvmlDeviceGetUtilizationRates': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    with pytest.raises(nvml.NvmlError) as info:
        sample(FakeClock(), 1, 0.5)
    assert info.value.kind == 'gpu_lost'
    assert 'reading the utilization of GPU 1' in str(info.value)
    assert fake_device.initialised == 0


# ---- per-process utilization ---------------------------------------------------------------

def mean(values):
    return round(sum(values) / float(len(values)), 1)


def test_process_utilization_is_the_mean_of_its_samples(fake_device, device_data):
    fake_device.use('t4_single_busy')
    raw = device_data('t4_single_busy')['gpus'][0]['compute_processes']
    gpus = sample(FakeClock(), 3, 1)
    by_pid = dict((proc['pid'], proc['utilization']) for proc in gpus[0]['processes'])
    for proc in raw:
        sm = proc['sm_util'] if isinstance(proc['sm_util'], list) else [proc['sm_util']]
        memory = proc['mem_util'] if isinstance(proc['mem_util'], list) else [proc['mem_util']]
        # One sample per poll (four polls), each process's values taken in turn.
        assert by_pid[proc['pid']] == {'sm': mean(cycled(sm, 4)), 'memory': mean(cycled(memory, 4))}
    assert by_pid[2417] == {'sm': 39.5, 'memory': 22.2}


def test_process_without_a_sample_in_the_window_reads_zero(fake_device, device_data):
    fake_device.use('t4_dual')
    gpus = sample(FakeClock(), 1, 1)
    by_pid = dict((proc['pid'], proc['utilization']) for proc in gpus[1]['processes'])
    # The MPS server has no sample of its own; its clients do.
    assert by_pid[3100] == {'sm': 0.0, 'memory': 0.0}
    assert by_pid[3201] == {'sm': 25.0, 'memory': 7.0}


def test_no_sample_at_all_reads_zero_for_every_process(fake_device, device_data):
    data = device_data('t4_single_busy')
    for proc in data['gpus'][0]['compute_processes']:
        del proc['sm_util'], proc['mem_util']
    fake_device.write(data)
    gpus = sample(FakeClock(), 1, 1)
    assert [proc['utilization'] for proc in gpus[0]['processes']] == [{'sm': 0.0, 'memory': 0.0}] * 2


@pytest.mark.parametrize('error', ['NVML_ERROR_NOT_SUPPORTED', 'NVML_ERROR_FUNCTION_NOT_FOUND'])
def test_driver_without_process_utilization_gives_null(fake_device, device_data, error):
    data = device_data('t4_single_busy')
    data['gpus'][0]['errors'] = {'nvmlDeviceGetProcessUtilization': error}
    fake_device.write(data)
    gpus = sample(FakeClock(), 1, 1)
    assert [proc['utilization'] for proc in gpus[0]['processes']] == [None, None]
    # The GPU's own sampling is unaffected.
    assert gpus[0]['utilization_sampled']['samples'] == 2


def test_binding_without_process_utilization_gives_null(fake_device, monkeypatch):
    fake_device.use('t4_single_busy')
    monkeypatch.delattr(fake_device.lib, 'nvmlDeviceGetProcessUtilization')
    gpus = sample(FakeClock(), 1, 1)
    assert [proc['utilization'] for proc in gpus[0]['processes']] == [None, None]


def test_process_utilization_failure_names_the_gpu(fake_device, device_data):
    data = device_data('t4_single_busy')
    data['gpus'][0]['errors'] = {'nvmlDeviceGetProcessUtilization': 'NVML_ERROR_GPU_IS_LOST'}
    fake_device.write(data)
    with pytest.raises(nvml.NvmlError) as info:
        sample(FakeClock(), 1, 1)
    assert info.value.kind == 'gpu_lost'
    assert 'reading the process utilization of GPU 0' in str(info.value)


def test_samples_are_counted_once_and_only_inside_the_window(fake_device, monkeypatch):
    fake_device.use('t4_single_busy')
    lib = fake_device.lib
    clock = FakeClock(wall_start=100.0)
    start = 100 * 1000000
    asked = []

    def driver_ignoring_the_time_stamp(handle, timeStamp):
        asked.append(timeStamp)
        make = lib.c_nvmlProcessUtilizationSample_t
        return [make(pid=2301, timeStamp=start - 5, smUtil=99, memUtil=99, encUtil=0, decUtil=0),  # before the window
                make(pid=2301, timeStamp=start + 10, smUtil=40, memUtil=10, encUtil=0, decUtil=0),
                make(pid=2417, timeStamp=start + 20, smUtil=60, memUtil=30, encUtil=0, decUtil=0)]
    monkeypatch.setattr(lib, 'nvmlDeviceGetProcessUtilization', driver_ignoring_the_time_stamp)
    gpus = sample(clock, 2, 1)
    by_pid = dict((proc['pid'], proc['utilization']) for proc in gpus[0]['processes'])
    assert by_pid == {2301: {'sm': 40.0, 'memory': 10.0}, 2417: {'sm': 60.0, 'memory': 30.0}}
    # Each poll asks only for samples newer than the newest one seen.
    assert asked == [start, start + 20, start + 20]


def test_binding_answering_success_with_no_sample_reads_as_none_taken(fake_device, monkeypatch):
    fake_device.use('t4_single_busy')
    lib = fake_device.lib

    def success_without_samples(handle, timeStamp):
        raise lib.NVMLError(lib.NVML_SUCCESS)
    monkeypatch.setattr(lib, 'nvmlDeviceGetProcessUtilization', success_without_samples)
    gpus = sample(FakeClock(), 1, 1)
    assert [proc['utilization'] for proc in gpus[0]['processes']] == [{'sm': 0.0, 'memory': 0.0}] * 2


def test_without_processes_no_process_sample_is_read(fake_device, monkeypatch):
    fake_device.use('t4_single_busy')

    def refuse(handle, timeStamp):
        raise AssertionError('per-process utilization read with processes=false')
    monkeypatch.setattr(fake_device.lib, 'nvmlDeviceGetProcessUtilization', refuse)
    gpus = sample(FakeClock(), 1, 1, processes=False)
    assert 'processes' not in gpus[0]
    assert gpus[0]['utilization_sampled']['samples'] == 2


# ---- option checks -------------------------------------------------------------------------

@pytest.mark.parametrize('seconds, interval, window', [
    (0, 1.0, None), ('0', '1', None), (0, 60, None), (5, 1, (5.0, 1.0)), ('0.2', '0.1', (0.2, 0.1)),
    (0.1, 0.1, (0.1, 0.1)), (3600, 60, (3600.0, 60.0)), (1, 0.05, (1.0, 0.05)),
])
def test_sampling_window_accepted(seconds, interval, window):
    assert nvml.parse_sampling(seconds, interval) == window


@pytest.mark.parametrize('seconds, interval, words', [
    (-1, 1, "sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got -1"),
    (0.05, 0.05, "sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got 0.05"),
    (3601, 1, "got 3601"),
    (True, 1, "sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got True"),
    ('5s', 1, "got '5s'"),
    (None, 1, "sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got None"),
    (float('nan'), 1, "got nan"),
    (5, 0, "sample_interval must be a number of seconds from 0.05 to 60, got 0"),
    (5, 0.01, "sample_interval must be a number of seconds from 0.05 to 60, got 0.01"),
    (5, 61, "got 61"),
    (5, 'fast', "got 'fast'"),
    (5, None, "got None"),
    # A bad interval is refused even when sampling is off.
    (0, 120, "sample_interval must be a number of seconds from 0.05 to 60, got 120"),
    (1, 2, "sample_interval (2) must not be longer than sample_seconds (1)"),
    ('0.5', '0.75', "sample_interval (0.75) must not be longer than sample_seconds (0.5)"),
])
def test_bad_sampling_window_refused_naming_option_and_value(seconds, interval, words):
    with pytest.raises(InvalidOption) as info:
        nvml.parse_sampling(seconds, interval)
    assert words in str(info.value)
    assert info.value.kind == 'invalid_option'
