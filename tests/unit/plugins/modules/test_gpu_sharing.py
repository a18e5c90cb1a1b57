# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.edge_gpu.sharing.plugins.modules import gpu_sharing

GPU0 = 'GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6'
GPU1 = 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7'
# NVML's compute mode numbers (nvml.h): the device files speak NVML.
DEFAULT = 0
EXCLUSIVE_PROCESS = 3


@pytest.fixture
def args(tmp_path):
    return {'mps_pipe_directory': str(tmp_path / 'pipe'), 'mps_log_directory': str(tmp_path / 'log'),
            'iotedge_dest': str(tmp_path / 'edge' / 'deployment.json')}


def two_t4(args, **more):
    """MPS on GPU 1 only, time-slicing on GPU 0, as the bundled two-T4 devices are asked."""
    request = dict(args, strategy='time_slicing', gpu_strategies={'1': 'mps'}, platform='iotedge',
                   mps_default_active_thread_percentage=50,
                   workloads=[{'name': 'detector', 'image': 'registry.local/detector:1.4', 'gpu_percentage': 20},
                              {'name': 'recorder', 'image': 'registry.local/recorder:2.0'}])
    request.update(more)
    return request


def modules_env(path):
    with open(path) as handle:
        manifest = json.load(handle)
    modules = manifest['modulesContent']['$edgeAgent']['properties.desired']['modules']
    return dict((name, dict((key, value['value']) for key, value in module['env'].items()))
                for name, module in modules.items())


def compute_modes(fake_device):
    return [gpu['compute_mode'] for gpu in fake_device.read()['gpus']]


def test_two_t4_converges_then_is_not_changed(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_dual')
    failed, result = run_module(gpu_sharing, two_t4(args))
    assert not failed and result['changed'] is True, result
    assert result['strategies'] == {'0': 'time_slicing', '1': 'mps'}
    # The daemon serves GPU 1 only, with the default asked for.
    assert mps_daemon.running and mps_daemon.env['CUDA_VISIBLE_DEVICES'] == GPU1 and mps_daemon.percentage == 50.0
    env = modules_env(args['iotedge_dest'])
    # The MPS workload is on GPU 1 with its limit; the other is on GPU 0 and has no MPS variable.
    assert env['detector']['NVIDIA_VISIBLE_DEVICES'] == '1'
    assert env['detector']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '20'
    assert env['detector']['CUDA_MPS_PIPE_DIRECTORY'] == args['mps_pipe_directory']
    assert env['recorder']['NVIDIA_VISIBLE_DEVICES'] == '0'
    assert not [name for name in env['recorder'] if name.startswith('CUDA_MPS_')]
    assert stat.S_IMODE(os.stat(args['iotedge_dest']).st_mode) == 0o600
    assert compute_modes(fake_device) == [DEFAULT, EXCLUSIVE_PROCESS]
    assert 'changed' in result['summary'] and '1:mps' in result['summary']

    calls = len(mps_daemon.calls)
    failed, again = run_module(gpu_sharing, two_t4(args))
    assert not failed and again['changed'] is False and again['differences'] == []
    assert not [call for call in mps_daemon.calls[calls:] if not call.startswith('get_')]


def test_check_mode_reports_everything_and_changes_nothing(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    before = fake_device.read()
    request = two_t4(args, strategy='mps', gpu_strategies={}, _ansible_diff=True, workloads=[
        {'name': 'detector', 'image': 'registry.local/detector:1.4', 'gpu_percentage': 20},
        {'name': 'tracker', 'image': 'registry.local/tracker:2.0', 'gpu_percentage': 30}])
    failed, result = run_module(gpu_sharing, request, check_mode=True)
    assert not failed and result['changed'] is True
    assert set(result['differences']) >= {'mps', 'manifest'}
    assert result['diff']['after']['mps']['running'] is True and result['diff']['before']['mps']['running'] is False
    assert not mps_daemon.running and not os.path.exists(args['iotedge_dest'])
    assert fake_device.read() == before


@pytest.mark.parametrize('device', ['no_gpu', 'driver_not_loaded'])
def test_a_device_without_gpus_succeeds_when_nothing_needs_one(args, run_module, fake_device, mps_daemon, device):
    fake_device.use(device)
    failed, result = run_module(gpu_sharing, dict(args, strategy='none', platform='iotedge'))
    assert not failed and result['changed'] is False and result['available'] is False
    assert 'none' in result['summary']
    failed, result = run_module(gpu_sharing, dict(args, strategy='mps'))
    assert failed and result['error_kind'] in ('library_not_found', 'driver_not_loaded'), result


def test_an_invalid_request_fails_before_anything_changes(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    before = fake_device.read()
    request = two_t4(args, strategy='mps', gpu_strategies={}, workloads=[
        {'name': 'a', 'image': 'registry.local/a:1', 'gpu_percentage': 70, 'gpu': 0},
        {'name': 'b', 'image': 'registry.local/b:1', 'gpu_percentage': 60, 'gpu': 0}])
    failed, result = run_module(gpu_sharing, request)
    assert failed and result['error_kind'] == 'plan'
    assert '130' in result['msg'] and "'b'" in result['msg']
    assert not mps_daemon.calls or all(call.startswith('get_') for call in mps_daemon.calls)
    assert fake_device.read() == before and not os.path.exists(args['iotedge_dest'])


@pytest.mark.parametrize('change, words', [
    ({'strategy': 'sliced'}, 'strategy'),
    ({'gpu_strategies': {'7': 'mps'}}, 'no GPU matches 7'),
    ({'gpu_strategies': {'0': 'shared'}}, 'gpu_strategies'),
    ({'mps_default_active_thread_percentage': '20%'}, 'mps_default_active_thread_percentage'),
    ({'mps_pinned_device_mem_limit': '2GB'}, 'mps_pinned_device_mem_limit'),
    ({'mps_pinned_device_mem_limit': {'0': '2G'}}, 'not a GPU the MPS daemon serves'),
    ({'mps_pipe_directory': 'relative/pipe'}, 'absolute'),
    ({'reserved_gpus': ['GPU-1234']}, 'reserved_gpus'),
    ({'replicas': 1}, 'replicas'),
    ({'mps_timeout': 0}, 'mps_timeout'),
    # GPU 1 of the two-T4 device file, by index and by UUID, with two sizes.
    ({'mps_pinned_device_mem_limit': {'1': '2G', 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7': '4G'}}, 'two sizes, 2G and 4G'),
    ({'mps_timeout': 10 ** 30}, 'mps_timeout'),
    ({'mps_log_directory': '/var/log/nvidia mps'}, "mps_log_directory '/var/log/nvidia mps'"),
    ({'iotedge_dest': '/var/lib/edge_gpu/'}, "iotedge_dest '/var/lib/edge_gpu/' is not a normalised path"),
])
def test_bad_values_are_named(args, run_module, fake_device, mps_daemon, change, words):
    fake_device.use('t4_dual')
    before = fake_device.read()
    failed, result = run_module(gpu_sharing, two_t4(args, **change))
    assert failed and words in result['msg'], result
    assert not mps_daemon.running and fake_device.read() == before


def test_switching_mps_off_stops_the_daemon_and_releases_the_gpu(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    failed, result = run_module(gpu_sharing, dict(args, strategy='mps'))
    assert not failed and mps_daemon.running and compute_modes(fake_device) == [EXCLUSIVE_PROCESS]
    failed, result = run_module(gpu_sharing, dict(args, strategy='time_slicing'))
    assert not failed and result['changed'] is True
    assert not mps_daemon.running and compute_modes(fake_device) == [DEFAULT]
    failed, result = run_module(gpu_sharing, dict(args, strategy='none'))
    assert not failed and result['changed'] is False


def test_a_daemon_that_fails_to_start_puts_the_gpu_modes_back(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    mps_daemon.start_rc, mps_daemon.start_output = 1, 'cannot start'
    failed, result = run_module(gpu_sharing, dict(args, strategy='mps'))
    assert failed and result['error_kind'] == 'mps'
    assert 'put back' in result['msg'] and 'modes' in result['msg']
    assert compute_modes(fake_device) == [DEFAULT] and not mps_daemon.running


def test_an_empty_workload_list_removes_nothing_unless_pruning(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    request = dict(args, strategy='time_slicing', platform='iotedge',
                   workloads=[{'name': 'nbody', 'image': 'nvcr.io/nvidia/k8s/cuda-sample:nbody'}])
    assert not run_module(gpu_sharing, request)[0]
    with open(args['iotedge_dest']) as handle:
        deployed = handle.read()
    failed, result = run_module(gpu_sharing, dict(request, workloads=[]))
    assert not failed and result['changed'] is False
    with open(args['iotedge_dest']) as handle:
        assert handle.read() == deployed
    failed, result = run_module(gpu_sharing, dict(request, workloads=[], prune=True))
    assert not failed and result['changed'] is True and modules_env(args['iotedge_dest']) == {}


def test_restore_puts_back_what_a_run_changed(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    request = dict(args, strategy='mps', platform='iotedge',
                   workloads=[{'name': 'nbody', 'image': 'nvcr.io/nvidia/k8s/cuda-sample:nbody', 'gpu_percentage': 50}])
    failed, result = run_module(gpu_sharing, request)
    assert not failed and result['restore'] is not None
    # The data alone says where the daemon is (site.yml's rescue has nothing else).
    failed, undone = run_module(gpu_sharing, {'restore': result['restore']})
    assert not failed and undone['changed'] is True
    assert not mps_daemon.running and compute_modes(fake_device) == [DEFAULT]
    assert not os.path.exists(args['iotedge_dest'])
    failed, again = run_module(gpu_sharing, {'restore': result['restore']})
    assert not failed and again['changed'] is False


GOOD_RESTORE = {'mps_pipe_directory': '/tmp/nvidia-mps', 'mps_control_binary': 'nvidia-cuda-mps-control', 'mps_timeout': 10,
                'modes': [], 'mps': None, 'manifest': None}


@pytest.mark.parametrize('restore, words', [
    ({}, 'missing mps_pipe_directory, mps_control_binary, mps_timeout, modes, mps, manifest'),
    (dict(GOOD_RESTORE, extra=1), 'unknown extra'),
    (dict(GOOD_RESTORE, mps_timeout='ten'), "restore.mps_timeout must be a whole number of seconds from 1 to 3600, got 'ten'"),
    (dict(GOOD_RESTORE, mps_pipe_directory='mps'), "restore.mps_pipe_directory 'mps'"),
    (dict(GOOD_RESTORE, mps_control_binary=None), 'mps_control_binary must be a program name or path, got None'),
    (dict(GOOD_RESTORE, modes='GPU-1'), "modes must be a list of {uuid, compute_mode, persistence_mode}, got 'GPU-1'"),
    (dict(GOOD_RESTORE, mps=[1]), 'mps must be a dictionary or null, got [1]'),
])
def test_restore_data_that_no_run_returned_is_refused_before_anything(run_module, fake_device, mps_daemon, restore, words):
    fake_device.use('t4_single')
    before = fake_device.read()
    failed, result = run_module(gpu_sharing, {'restore': restore})
    assert failed and words in result['msg'] and result['error_kind'] == 'invalid_option', result
    assert fake_device.read() == before and mps_daemon.calls == []


def test_kubernetes_gets_objects_and_a_plugin_config_without_plugin_mps(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_dual')
    failed, result = run_module(gpu_sharing, two_t4(args, platform='kubernetes', replicas=4))
    assert not failed
    assert [obj['metadata']['name'] for obj in result['objects']] == ['detector', 'recorder']
    sharing_config = result['device_plugin_config'].get('sharing', {})
    assert 'mps' not in sharing_config and sharing_config['timeSlicing']['resources'][0]['replicas'] == 4
    assert not os.path.exists(args['iotedge_dest'])


def test_systemd_owns_the_daemon_so_no_mps_gpu_never_stops_it(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    # The unit started it (as the mps role's systemd unit does), serving every GPU.
    mps_daemon.run_command([mps_daemon.BINARY, '-d'], environ_update={'CUDA_MPS_PIPE_DIRECTORY': args['mps_pipe_directory'],
                                                                      'CUDA_MPS_LOG_DIRECTORY': args['mps_log_directory']})
    failed, result = run_module(gpu_sharing, dict(args, strategy='none', mps_daemon_owner='systemd'))
    assert not failed and result['changed'] is False and mps_daemon.running
    # Asked for MPS on every GPU, the unit's daemon (no CUDA_VISIBLE_DEVICES) is what is wanted.
    failed, result = run_module(gpu_sharing, dict(args, strategy='mps', mps_daemon_owner='systemd',
                                                  mps_default_active_thread_percentage=30))
    assert not failed and mps_daemon.running and mps_daemon.percentage == 30.0
    assert [call for call in mps_daemon.calls if call in ('-d', 'quit')] == ['-d'], mps_daemon.calls


def test_an_exclusive_process_gpu_mps_never_served_is_the_operators(args, run_module, fake_device, mps_daemon):
    data = fake_device.use('t4_single')
    data['gpus'][0]['compute_mode'] = EXCLUSIVE_PROCESS
    fake_device.write(data)
    failed, result = run_module(gpu_sharing, dict(args, strategy='time_slicing'))
    assert not failed and result['changed'] is False and compute_modes(fake_device) == [EXCLUSIVE_PROCESS]


def test_the_manifest_diff_shows_a_fingerprint_never_a_password(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    request = dict(args, strategy='time_slicing', platform='iotedge', _ansible_diff=True,
                   registry_credentials={'acr': {'address': 'acr.example.io', 'username': 'u', 'password': 's3cr"et'}},
                   workloads=[{'name': 'nbody', 'image': 'acr.example.io/nbody:1'}])
    failed, result = run_module(gpu_sharing, request)
    assert not failed and 'sha256' in result['diff']['after']['manifest']
    assert 's3cr' not in json.dumps(result['diff'])


def test_review_mode_writes_no_manifest_on_the_device(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    request = dict(args, strategy='time_slicing', platform='iotedge', iotedge_dest='',
                   workloads=[{'name': 'nbody', 'image': 'nvcr.io/nvidia/k8s/cuda-sample:nbody'}])
    failed, result = run_module(gpu_sharing, request)
    assert not failed and result['changed'] is False and result['manifest'] is not None
    assert not os.path.exists(os.path.dirname(args['iotedge_dest']))


def test_a_gpu_named_twice_in_gpu_strategies_is_refused(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_dual')
    failed, result = run_module(gpu_sharing, two_t4(args, gpu_strategies={'1': 'mps', GPU1: 'none'}))
    assert failed and 'gpu_strategies names GPU 1' in result['msg'] and 'twice' in result['msg']
    assert not mps_daemon.running


# Pinned device memory limits need driver 495.29.05 (CUDA 11.5); the legacy device runs 470.256.02.
@pytest.mark.parametrize('more, words', [
    ({'mps_pinned_device_mem_limit': '2G'},
     'mps_pinned_device_mem_limit 2G needs driver >= 495.29.05 (MPS pinned device memory limits came with CUDA 11.5), '
     'GPU host has 470.256.02'),
    ({'workloads': [{'name': 'detector', 'image': 'registry.local/detector:1.4', 'gpu_percentage': 20, 'gpu_memory': '1G'}]},
     'workloads[detector].gpu_memory 1G needs driver >= 495.29.05'),
])
def test_pinned_memory_on_an_old_driver_fails_before_anything_changes(args, run_module, fake_device, mps_daemon, more, words):
    fake_device.use('t4_dual', driver_version='470.256.02')
    before = fake_device.read()
    failed, result = run_module(gpu_sharing, two_t4(args, **more))
    assert failed and words in result['msg'], result
    assert fake_device.read() == before and mps_daemon.calls == []
    assert not os.path.exists(args['iotedge_dest'])


def test_gpu_memory_off_mps_needs_no_new_driver(args, run_module, fake_device, mps_daemon):
    # Time-sliced GPUs get no MPS limit, so an old driver is fine.
    fake_device.use('t4_dual', driver_version='470.256.02')
    failed, result = run_module(gpu_sharing, two_t4(args, gpu_strategies={}, workloads=[
        {'name': 'recorder', 'image': 'registry.local/recorder:2.0', 'gpu_memory': '1G'}]))
    assert not failed, result


def test_pinned_memory_on_a_new_enough_driver(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_dual', driver_version='495.29.05')
    failed, result = run_module(gpu_sharing, two_t4(args, mps_pinned_device_mem_limit='2G'))
    assert not failed and mps_daemon.limits == {0: '2G'}


def test_a_manifest_made_0644_goes_back_to_0600_and_the_restore_leaves_it(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_single')
    request = dict(args, strategy='time_slicing', platform='iotedge',
                   registry_credentials={'acr': {'address': 'acr.example.io', 'username': 'edge', 'password': 'pw-1'}},
                   workloads=[{'name': 'nbody', 'image': 'acr.example.io/nbody:1'}])
    failed, result = run_module(gpu_sharing, request)
    assert not failed and os.stat(args['iotedge_dest']).st_mode & 0o777 == 0o600
    os.chmod(args['iotedge_dest'], 0o644)
    failed, result = run_module(gpu_sharing, dict(request, _ansible_diff=True), check_mode=True)
    assert not failed and result['changed'] is True and os.stat(args['iotedge_dest']).st_mode & 0o777 == 0o644
    assert 'mode 0644' in result['diff']['before']['manifest'] and 'mode 0600' in result['diff']['after']['manifest']
    failed, result = run_module(gpu_sharing, request)
    assert not failed and result['changed'] is True and os.stat(args['iotedge_dest']).st_mode & 0o777 == 0o600
    assert result['restore']['manifest'] is None
    failed, result = run_module(gpu_sharing, request)
    assert not failed and result['changed'] is False


@pytest.mark.parametrize('mode', ['0644', '0666', 'u=rw'])
def test_a_manifest_mode_others_could_read_is_refused(args, run_module, fake_device, mps_daemon, mode):
    fake_device.use('t4_single')
    failed, result = run_module(gpu_sharing, dict(args, strategy='time_slicing', platform='iotedge', iotedge_mode=mode,
                                                  workloads=[{'name': 'nbody', 'image': 'acr.example.io/nbody:1'}]))
    assert failed and 'iotedge_mode' in result['msg'] and mode in result['msg']
    assert not os.path.exists(args['iotedge_dest'])


def test_dra_renders_claims_and_leaves_mps_to_the_drivers_daemons(args, run_module, fake_device, mps_daemon):
    fake_device.use('t4_dual')
    before = fake_device.read()
    request = two_t4(args, platform='kubernetes', allocation='dra', mps_default_active_thread_percentage=None)
    failed, result = run_module(gpu_sharing, request)
    assert not failed, result
    kinds = sorted(obj['kind'] for obj in result['objects'])
    assert kinds == ['Deployment', 'Deployment', 'ResourceClaimTemplate', 'ResourceClaimTemplate']
    # NVIDIA's DRA driver runs one MPS daemon per claim: none on the host, no mode changed for MPS.
    assert fake_device.read() == before
    assert not mps_daemon.running and [call for call in mps_daemon.calls if not call.startswith('get_')] == []
    deployment = [obj for obj in result['objects'] if obj['metadata']['name'] == 'detector'][0]
    claim = deployment['spec']['template']['spec']['resourceClaims'][0]['resourceClaimTemplateName']
    detector = [obj for obj in result['objects'] if obj['metadata']['name'] == claim][0]
    assert detector['kind'] == 'ResourceClaimTemplate' and GPU1 in json.dumps(detector)
    failed, again = run_module(gpu_sharing, request)
    assert not failed and again['changed'] is False


def test_dra_creates_no_directory_for_the_host_daemon(args, run_module, fake_device, tmp_path):
    # With dra no host MPS daemon runs, so the run has no reason to create its pipe directory's
    # parent (a host MPS run does, for the daemon's lock file).
    fake_device.use('t4_dual')
    pipe = tmp_path / 'run' / 'edge' / 'mps'
    request = two_t4(args, platform='kubernetes', allocation='dra', mps_default_active_thread_percentage=None,
                     mps_pipe_directory=str(pipe))
    failed, result = run_module(gpu_sharing, request)
    assert not failed, result
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('change, words', [
    ({'platform': 'iotedge'}, ['allocation dra is for Kubernetes', 'iotedge']),
    ({'mps_default_active_thread_percentage': 50}, ['mps_default_active_thread_percentage 50', 'one MPS daemon per claim']),
    ({'replicas': 4}, ['replicas 4']),
    ({'allocation': 'claims'}, ['allocation', 'claims']),
])
def test_dra_refuses_what_it_replaces_before_anything_changes(args, run_module, fake_device, mps_daemon, change, words):
    fake_device.use('t4_dual')
    before = fake_device.read()
    request = dict(two_t4(args, platform='kubernetes', allocation='dra', mps_default_active_thread_percentage=None), **change)
    failed, result = run_module(gpu_sharing, request)
    assert failed
    for word in words:
        assert word in result['msg']
    assert fake_device.read() == before and [call for call in mps_daemon.calls if not call.startswith('get_')] == []
