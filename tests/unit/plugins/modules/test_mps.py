# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mps module against a scripted control daemon (tests/integration drives NVIDIA's real one)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import nvml
from ansible_collections.edge_gpu.sharing.plugins.modules import mps as mps_module

GPU1 = 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7'


@pytest.fixture
def args(tmp_path, fake_device):
    fake_device.use('t4_dual')
    return {'pipe_directory': str(tmp_path / 'pipe'), 'log_directory': str(tmp_path / 'log')}


def started(args, **more):
    return dict(args, gpus=[1], default_active_thread_percentage=20, default_pinned_device_mem_limit={'0': '2G'}, **more)


def test_start_serves_the_gpus_with_the_defaults(args, run_module, mps_daemon):
    failed, result = run_module(mps_module, started(args))
    assert not failed and result['changed'] is True
    assert mps_daemon.env['CUDA_VISIBLE_DEVICES'] == GPU1
    assert (mps_daemon.percentage, mps_daemon.limits) == (20.0, {0: '2G'})
    assert result['running'] is True and result['pid'] == 4242
    assert result['visible_devices'] == GPU1
    assert result['default_active_thread_percentage'] == 20.0
    assert result['default_pinned_device_mem_limit'] == {'0': '2G'}
    assert result['default_client_priority'] == 0
    assert os.path.isdir(args['pipe_directory']) and os.path.isdir(args['log_directory'])


def test_second_run_is_not_changed(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    calls = len(mps_daemon.calls)
    failed, result = run_module(mps_module, started(args))
    assert not failed and result['changed'] is False
    assert not [call for call in mps_daemon.calls[calls:] if call.startswith('set_') or call in ('-d', 'quit')]


def test_changing_the_percentage_changes_only_that(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    failed, result = run_module(mps_module, dict(started(args), default_active_thread_percentage=30, _ansible_diff=True))
    assert not failed and result['changed'] is True
    before, after = result['diff']['before'], result['diff']['after']
    assert [key for key in before if before[key] != after[key]] == ['default_active_thread_percentage']
    assert mps_daemon.percentage == 30.0 and mps_daemon.calls.count('-d') == 1


def test_check_mode_predicts_start_without_starting(args, run_module, mps_daemon):
    failed, result = run_module(mps_module, started(args), check_mode=True)
    assert not failed and result['changed'] is True
    assert result['running'] is True and result['pid'] is None
    assert result['default_active_thread_percentage'] == 20.0
    assert mps_daemon.running is False and '-d' not in mps_daemon.calls
    assert not os.path.exists(args['pipe_directory'])


def test_check_mode_predicts_a_new_percentage_without_setting_it(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    failed, result = run_module(mps_module, dict(started(args), default_active_thread_percentage=70), check_mode=True)
    assert result['changed'] is True and result['default_active_thread_percentage'] == 70.0
    assert mps_daemon.percentage == 20.0


def test_client_priority(args, run_module, mps_daemon):
    failed, result = run_module(mps_module, dict(args, default_client_priority=1))
    assert not failed and mps_daemon.priority == 1 and result['default_client_priority'] == 1


def test_stop_and_stop_again(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    failed, result = run_module(mps_module, dict(args, state='stopped'))
    assert not failed and result['changed'] is True and result['running'] is False
    assert mps_daemon.running is False
    failed, result = run_module(mps_module, dict(args, state='stopped'))
    assert not failed and result['changed'] is False


def test_stop_in_check_mode_leaves_it_running(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    failed, result = run_module(mps_module, dict(args, state='stopped'), check_mode=True)
    assert result['changed'] is True and mps_daemon.running is True


def test_stop_with_clients_is_refused_unless_forced(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    mps_daemon.servers, mps_daemon.clients = [77], {77: [501, 502]}
    failed, result = run_module(mps_module, dict(args, state='stopped'))
    assert failed and 'clients are connected (pids 501, 502)' in result['msg']
    assert mps_daemon.running is True
    failed, result = run_module(mps_module, dict(args, state='stopped', force=True))
    assert not failed and mps_daemon.running is False


def test_other_gpus_restart_the_daemon_and_reapply_defaults(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    failed, result = run_module(mps_module, dict(started(args), gpus=[0, 1]))
    assert not failed and result['changed'] is True
    assert mps_daemon.calls.count('-d') == 2 and 'quit' in mps_daemon.calls
    assert mps_daemon.env['CUDA_VISIBLE_DEVICES'].count('GPU-') == 2
    assert mps_daemon.percentage == 20.0


def test_restart_with_clients_is_refused(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    mps_daemon.servers, mps_daemon.clients = [77], {77: [501]}
    failed, result = run_module(mps_module, dict(started(args), gpus=[0]))
    assert failed and 'refusing to restart' in result['msg']


def test_daemon_gone_between_runs_is_started_again(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    mps_daemon.running = False
    failed, result = run_module(mps_module, started(args))
    assert not failed and result['changed'] is True and mps_daemon.running


@pytest.mark.parametrize('change, words', [
    ({'default_active_thread_percentage': 0}, 'got 0'),
    ({'default_active_thread_percentage': 101}, 'got 101'),
    ({'default_active_thread_percentage': '20%'}, "got '20%'"),
    ({'default_pinned_device_mem_limit': {'0': '2X'}}, "'2X' is not a memory size"),
    ({'default_pinned_device_mem_limit': {'first': '2G'}}, "'first' is not a device ordinal"),
    ({'default_pinned_device_mem_limit': {'1': '2G'}}, 'device ordinal(s) 1 out of range'),
    ({'gpus': [7]}, 'gpus: no GPU matches 7'),
    ({'gpus': ['GPU-x']}, "gpus: GPU selector 'GPU-x'"),
    ({'timeout': 0}, 'timeout must be a whole number of seconds from 1'),
    ({'pipe_directory': '/' + 'p' * 100}, 'too long'),
    ({'default_client_priority': 3}, 'default_client_priority'),
])
def test_bad_input_is_refused_before_anything_changes(args, run_module, mps_daemon, change, words):
    failed, result = run_module(mps_module, dict(started(args), **change))
    assert failed and words in result['msg']
    assert mps_daemon.calls == [] or not mps_daemon.running


def test_mig_gpu_is_refused(args, run_module, mps_daemon, fake_device):
    fake_device.use('a100_mig')
    failed, result = run_module(mps_module, dict(args, gpus=[0]))
    assert failed and 'MIG-enabled' in result['msg'] and not mps_daemon.running


def test_gpus_without_nvml_is_refused(args, run_module, mps_daemon, monkeypatch):
    monkeypatch.setattr(nvml, 'pynvml', None)
    failed, result = run_module(mps_module, dict(args, gpus=[0]))
    assert failed and 'nvidia-ml-py' in result['msg']


@pytest.mark.parametrize('problem, words', [
    ('world_writable', 'writable by group or others (mode 0777, owner '),
    ('file', 'exists but is not a directory'),
    ('under_a_file', 'cannot be created'),
    ('foreign_owner', 'belongs to another user (mode 0755, owner nobody)'),
])
def test_bad_pipe_directory_is_refused(args, run_module, mps_daemon, tmp_path, monkeypatch, problem, words):
    pipe = tmp_path / 'pipe'
    if problem == 'world_writable':
        pipe.mkdir()
        pipe.chmod(0o777)
    elif problem == 'file':
        pipe.write_text('')
    elif problem == 'under_a_file':
        pipe.write_text('')
        pipe = pipe / 'sub'
    else:
        if os.geteuid() != 0:
            pytest.skip('giving a directory to another user needs root')
        pipe.mkdir()
        os.chown(str(pipe), 65534, 65534)
    failed, result = run_module(mps_module, dict(args, pipe_directory=str(pipe)))
    assert failed and words in result['msg'] and not mps_daemon.running
    assert str(pipe) in result['msg']


@pytest.mark.parametrize('directory', ['pipe_directory', 'log_directory'])
@pytest.mark.parametrize('state', ['started', 'configured'])
def test_a_running_daemons_directory_made_group_writable_is_refused(args, run_module, mps_daemon, state, directory):
    run_module(mps_module, started(args))
    os.chmod(args[directory], 0o775)
    calls = len(mps_daemon.calls)
    failed, result = run_module(mps_module, dict(started(args), state=state, default_active_thread_percentage=30))
    assert failed
    assert args[directory] in result['msg'] and 'mode 0775' in result['msg'] and 'owner ' in result['msg']
    assert mps_daemon.running and mps_daemon.percentage == 20.0
    assert not [call for call in mps_daemon.calls[calls:] if call.startswith('set_') or call in ('-d', 'quit')]


def test_a_pipe_directory_in_a_sticky_world_writable_parent_is_fine(args, run_module, mps_daemon, tmp_path):
    parent = tmp_path / 'sticky'
    parent.mkdir()
    parent.chmod(0o1777)
    failed, result = run_module(mps_module, dict(started(args), pipe_directory=str(parent / 'pipe')))
    assert not failed and mps_daemon.running
    failed, result = run_module(mps_module, dict(started(args), pipe_directory=str(parent / 'pipe')))
    assert not failed and result['changed'] is False


def test_missing_binary(args, run_module, mps_daemon, monkeypatch):
    from ansible.module_utils import basic
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None: None)
    failed, result = run_module(mps_module, args)
    assert failed and 'nvidia-cuda-mps-control not found' in result['msg']
    failed, result = run_module(mps_module, dict(args, state='stopped'))
    assert not failed and result['changed'] is False


def test_binary_given_as_a_path_that_does_not_exist(args, run_module, mps_daemon, tmp_path):
    failed, result = run_module(mps_module, dict(args, control_binary=str(tmp_path / 'nope')))
    assert failed and 'not found' in result['msg']


def test_daemon_that_fails_to_start_is_reported_with_its_log(args, run_module, mps_daemon):
    mps_daemon.start_rc = 1
    os.makedirs(args['log_directory'])
    with open(os.path.join(args['log_directory'], 'control.log'), 'w') as handle:
        handle.write('[Control] cannot bind\n')
    failed, result = run_module(mps_module, args)
    assert failed and 'failed to start' in result['msg'] and 'cannot bind' in result['msg']


def test_refused_default_after_start_stops_the_daemon_again(args, run_module, mps_daemon):
    mps_daemon.refuse.add('set_default_device_pinned_mem_limit')
    failed, result = run_module(mps_module, started(args))
    assert failed and 'stopped again' in result['msg']
    assert mps_daemon.running is False


def test_refused_default_on_a_running_daemon_puts_the_others_back(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    mps_daemon.refuse.add('set_default_device_pinned_mem_limit')
    failed, result = run_module(mps_module, dict(started(args), default_active_thread_percentage=40,
                                                 default_pinned_device_mem_limit={'0': '1G'}))
    assert failed and 'put back' in result['msg']
    assert mps_daemon.running is True and mps_daemon.percentage == 20.0


def test_failed_restart_brings_the_old_daemon_back(args, run_module, mps_daemon):
    run_module(mps_module, started(args))
    real_run = mps_daemon.run_command
    attempts = []

    def first_start_fails(cmd, **kwargs):
        if cmd[-1] == '-d':
            attempts.append(kwargs['environ_update'].get('CUDA_VISIBLE_DEVICES'))
            if len(attempts) == 1:
                return 1, 'boom', ''
        return real_run(cmd, **kwargs)
    mps_daemon.run_command = first_start_fails
    failed, result = run_module(mps_module, dict(started(args), gpus=[0]))
    assert failed and 'started again as it was' in result['msg']
    assert mps_daemon.running and mps_daemon.env['CUDA_VISIBLE_DEVICES'] == GPU1
    assert mps_daemon.percentage == 20.0 and mps_daemon.limits == {0: '2G'}


# ---- state: configured (the daemon belongs to another owner, such as its systemd unit) ----

def owner_starts(mps_daemon, args, visible=None):
    """Start the scripted daemon the way its systemd unit would, outside the module."""
    environ = {'CUDA_MPS_PIPE_DIRECTORY': args['pipe_directory'], 'CUDA_MPS_LOG_DIRECTORY': '/var/log/owner-mps'}
    if visible:
        environ['CUDA_VISIBLE_DEVICES'] = visible
    assert mps_daemon.run_command([mps_daemon.BINARY, '-d'], environ_update=environ)[0] == 0
    del mps_daemon.calls[:]


def lifecycle(mps_daemon):
    return [call for call in mps_daemon.calls if call in ('-d', 'quit')]


def test_configured_sets_defaults_on_the_owners_daemon_then_is_not_changed(args, run_module, mps_daemon):
    owner_starts(mps_daemon, args)
    wanted = dict(args, state='configured', default_active_thread_percentage=25, default_client_priority=1,
                  default_pinned_device_mem_limit={'0': '1G'}, _ansible_diff=True)
    failed, result = run_module(mps_module, wanted)
    assert not failed and result['changed'] is True
    assert (mps_daemon.percentage, mps_daemon.priority, mps_daemon.limits) == (25.0, 1, {0: '1G'})
    assert result['pid'] == 4242 and result['log_directory'] == '/var/log/owner-mps'
    before, after = result['diff']['before'], result['diff']['after']
    assert sorted(key for key in before if before[key] != after[key]) == [
        'default_active_thread_percentage', 'default_client_priority', 'default_pinned_device_mem_limit']
    failed, result = run_module(mps_module, wanted)
    assert not failed and result['changed'] is False
    assert lifecycle(mps_daemon) == [] and not os.path.exists(args['log_directory'])


def test_configured_without_a_daemon_fails_naming_the_directory_and_starts_nothing(args, run_module, mps_daemon):
    failed, result = run_module(mps_module, dict(args, state='configured', default_active_thread_percentage=25))
    assert failed and result['error_kind'] == 'mps'
    assert 'no MPS control daemon serves %s' % args['pipe_directory'] in result['msg']
    assert lifecycle(mps_daemon) == [] and not mps_daemon.running
    assert not os.path.exists(args['pipe_directory'])


def test_configured_dry_run_before_the_owner_started_the_daemon_predicts_its_start(args, run_module, mps_daemon):
    # A role's preflight and --check run before the unit has ever started the daemon.
    failed, result = run_module(mps_module, dict(args, state='configured', default_active_thread_percentage=25),
                                check_mode=True)
    assert not failed and result['changed'] is True
    assert result['running'] is True and result['pid'] is None and result['default_active_thread_percentage'] == 25.0
    assert lifecycle(mps_daemon) == [] and not mps_daemon.running
    assert not os.path.exists(args['pipe_directory'])


def test_configured_in_check_mode_reports_without_setting(args, run_module, mps_daemon):
    owner_starts(mps_daemon, args)
    failed, result = run_module(mps_module, dict(args, state='configured', default_active_thread_percentage=25),
                                check_mode=True)
    assert not failed and result['changed'] is True and result['default_active_thread_percentage'] == 25.0
    assert mps_daemon.percentage == 100.0
    assert not [call for call in mps_daemon.calls if call.startswith('set_')]


def test_configured_never_restarts_a_daemon_serving_other_gpus(args, run_module, mps_daemon):
    owner_starts(mps_daemon, args, visible='GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6')
    failed, result = run_module(mps_module, dict(args, state='configured', gpus=[1], default_client_priority=1))
    assert failed and result['error_kind'] == 'mps' and 'never restarts it' in result['msg']
    assert lifecycle(mps_daemon) == [] and mps_daemon.priority == 0


def test_configured_with_the_gpus_it_serves_and_with_clients_connected(args, run_module, mps_daemon):
    owner_starts(mps_daemon, args, visible=GPU1)
    mps_daemon.servers, mps_daemon.clients = [77], {77: [501]}
    failed, result = run_module(mps_module, dict(args, state='configured', gpus=[1], default_client_priority=1))
    assert not failed and result['changed'] is True and mps_daemon.priority == 1
    assert lifecycle(mps_daemon) == []


def test_configured_refused_default_puts_the_others_back_and_keeps_the_daemon(args, run_module, mps_daemon):
    owner_starts(mps_daemon, args)
    mps_daemon.refuse.add('set_default_device_pinned_mem_limit')
    failed, result = run_module(mps_module, dict(args, state='configured', default_active_thread_percentage=40,
                                                 default_pinned_device_mem_limit={'0': '1G'}))
    assert failed and result['error_kind'] == 'mps' and 'put back' in result['msg']
    assert mps_daemon.running and mps_daemon.percentage == 100.0 and lifecycle(mps_daemon) == []


def test_error_kinds(args, run_module, mps_daemon):
    failed, result = run_module(mps_module, dict(args, default_active_thread_percentage=0))
    assert failed and result['error_kind'] == 'invalid_option'
    failed, result = run_module(mps_module, dict(started(args), default_pinned_device_mem_limit={'1': '2G'}))
    assert failed and result['error_kind'] == 'invalid_option'
    mps_daemon.start_rc = 1
    failed, result = run_module(mps_module, args)
    assert failed and result['error_kind'] == 'mps'


# MPS pinned device memory limits came with CUDA 11.5, whose Linux driver is 495.29.05 (NVIDIA's
# CUDA 11.5 release notes); the bundled legacy device runs 470.256.02.
@pytest.mark.parametrize('driver', ['470.256.02', '495.29.04', '460.106.00'])
def test_pinned_limits_on_an_old_driver_fail_before_anything_changes(args, run_module, mps_daemon, fake_device, driver):
    fake_device.use('t4_dual', driver_version=driver)
    failed, result = run_module(mps_module, started(args))
    assert failed
    assert result['msg'] == ("default_pinned_device_mem_limit[0] 2G needs driver >= 495.29.05 (MPS pinned device memory "
                             "limits came with CUDA 11.5), GPU host has %s" % driver)
    assert result['error_kind'] == 'invalid_option'
    assert mps_daemon.calls == [] and not os.path.exists(args['pipe_directory'])


def test_pinned_limits_are_checked_in_check_mode_too(args, run_module, mps_daemon, fake_device):
    fake_device.use('t4_dual', driver_version='470.256.02')
    failed, result = run_module(mps_module, started(args), check_mode=True)
    assert failed and 'needs driver >= 495.29.05' in result['msg']


@pytest.mark.parametrize('driver', ['495.29.05', '535.261.03', '580.159.04'])
def test_pinned_limits_on_a_new_enough_driver(args, run_module, mps_daemon, fake_device, driver):
    fake_device.use('t4_dual', driver_version=driver)
    failed, result = run_module(mps_module, started(args))
    assert not failed and mps_daemon.limits == {0: '2G'}


def test_an_old_driver_without_pinned_limits_is_fine(args, run_module, mps_daemon, fake_device):
    fake_device.use('t4_dual', driver_version='470.256.02')
    failed, result = run_module(mps_module, dict(args, gpus=[1], default_active_thread_percentage=20))
    assert not failed and mps_daemon.percentage == 20.0
