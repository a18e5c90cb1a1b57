# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fault matrix: NVML and the MPS daemon failing in every way we know of, an operator's
Ctrl-C in the middle of a converge, and two runs on one device at once.

Each broken device is one host of one ansible-playbook run (grouped so the matrix stays fast).
Every case asserts a clear error (a message naming what failed, an ``error_kind``, never a
module traceback or a hang) and that nothing was lost: the fake NVML state file, the MPS
daemon's settings read back through NVIDIA's real control program, the files on the device.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

import fleet  # pylint: disable=import-error
from conftest import BIN, PLAYBOOKS  # pylint: disable=import-error
from harness import MPS_CONTROL, NVML_LIBRARY, kill_daemons_under, mps_daemons_under, mps_query, require_nvidia_userland  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STAND_INS = os.path.join(ROOT, 'tests', 'sim', 'stand-ins')
EXAMPLE_INVENTORY = os.path.join(ROOT, 'examples', 'fleet', 'inventory', 'hosts.yml')
SYSTEM_PATH = '/usr/bin:/bin'
MODULES = ('gpu_info', 'gpu_mode', 'mps', 'gpu_sharing')


@pytest.fixture(autouse=True)
def userland(sim_root):
    require_nvidia_userland()
    yield
    # Every daemon a case left (the real one, and the stand-ins, which sleep for an hour).
    kill_daemons_under(sim_root)


def two_idle_t4():
    """t4_dual with both GPUs idle in the default compute mode: a two-GPU change is possible."""
    data = fleet.load_device('t4_dual')
    data['gpus'][1].update(compute_mode=0, compute_processes=[], mps_processes=[])
    return data


def nvml_state(sim_root, host):
    path = os.path.join(sim_root, host, 'nvml.json')
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def dirs(sim_root, host):
    base = os.path.join(sim_root, host, 'mps')
    return {'pipe_directory': os.path.join(base, 'pipe'), 'log_directory': os.path.join(base, 'log')}


def sharing_args(sim_root, host, **more):
    where = dirs(sim_root, host)
    args = {'strategy': 'mps', 'platform': 'none', 'mps_pipe_directory': where['pipe_directory'],
            'mps_log_directory': where['log_directory'], 'mps_timeout': 2}
    args.update(more)
    return args


class Device(object):
    """One broken device: its interpreter and the cases each module tries on it."""

    def __init__(self, sim_root, name, data=None, python_args=(), env=None, path=None):
        self.name = name
        directory = os.path.join(sim_root, name)
        os.makedirs(directory)
        env = dict(env or {})
        if data is not None:
            with open(os.path.join(directory, 'nvml.json'), 'w') as handle:
                json.dump(data, handle)
            env.update(EDGE_GPU_SIM_NVML=os.path.join(directory, 'nvml.json'),
                       PYTHONPATH=os.path.join(ROOT, 'tests', 'sim'))
        env['PATH'] = path or os.pathsep.join([os.path.dirname(MPS_CONTROL), SYSTEM_PATH])
        self.python = os.path.join(directory, 'python')
        fleet.write_interpreter(self.python, env)
        if python_args:
            # The same interpreter with arguments (python -S: without its site-packages).
            with open(self.python) as handle:
                text = handle.read()
            with open(self.python, 'w') as handle:
                handle.write(text.replace('"$@"', '%s "$@"' % ' '.join(python_args)))
        self.cases = dict((module, []) for module in MODULES)

    def host_vars(self):
        variables = {'ansible_connection': 'local', 'ansible_python_interpreter': self.python}
        for module, cases in self.cases.items():
            if cases:
                variables[module + '_cases'] = cases
        return variables


def run_matrix(devices, sim_root, tmp_path):
    """One ansible-playbook run over every device; ``{host: {module: [case results]}}``."""
    inventory = str(tmp_path / 'faults.yml')
    with open(inventory, 'w') as handle:
        yaml.safe_dump({'all': {'hosts': dict((device.name, device.host_vars()) for device in devices)}}, handle)
    results_dir = str(tmp_path / 'results')
    os.makedirs(results_dir)
    command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, '-f', '10',
               '-e', json.dumps({'results_dir': results_dir}), os.path.join(PLAYBOOKS, 'fault_matrix.yml')]
    env = dict(os.environ, EDGE_GPU_SIM_ROOT=sim_root, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
    proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout
    found = {}
    for device in devices:
        with open(os.path.join(results_dir, device.name + '.json')) as handle:
            found[device.name] = json.load(handle)
    return found, proc.stdout


def clear_failure(result, kind, *words):
    """The case failed with ``kind``, a message holding every one of ``words``, and no traceback."""
    assert result.get('failed') is True, result
    assert 'MODULE FAILURE' not in result.get('msg', '') and 'module_stderr' not in result, result
    assert 'Traceback' not in result['msg'], result['msg']
    assert result.get('error_kind') == kind, result
    for word in words:
        assert word in result['msg'], (word, result['msg'])


# ---- NVML ---------------------------------------------------------------------------------

def test_nvml_faults(sim_root, tmp_path):
    library_dir = os.path.dirname(NVML_LIBRARY)
    empty = str(tmp_path / 'no-libraries')
    os.makedirs(empty)
    with_init_error = dict(two_idle_t4(), init_error='NVML_ERROR_NO_PERMISSION')
    mismatch = dict(two_idle_t4(), init_error='NVML_ERROR_LIB_RM_VERSION_MISMATCH')
    denied = dict(two_idle_t4(), deny_changes=True)
    lost = two_idle_t4()
    lost['gpus'][1]['errors'] = {'nvmlDeviceSetComputeMode': 'NVML_ERROR_GPU_IS_LOST'}
    lost_on_query = two_idle_t4()
    lost_on_query['gpus'][1]['errors'] = {'nvmlDeviceGetUUID': 'NVML_ERROR_LIB_RM_VERSION_MISMATCH'}
    devices = [
        # No nvidia-ml-py at all: the venv's interpreter without its site-packages.
        Device(sim_root, 'no-pynvml', python_args=['-S']),
        # nvidia-ml-py, but no libnvidia-ml.so.1 anywhere the loader looks.
        Device(sim_root, 'no-library', env={'LD_LIBRARY_PATH': empty}),
        # NVIDIA's real libnvidia-ml.so.1 with no kernel driver: NVML_ERROR_DRIVER_NOT_LOADED.
        Device(sim_root, 'driver-not-loaded', env={'LD_LIBRARY_PATH': library_dir}),
        Device(sim_root, 'init-no-permission', data=with_init_error),
        Device(sim_root, 'set-no-permission', data=denied),
        Device(sim_root, 'gpu-lost-mid-change', data=lost),
        Device(sim_root, 'version-mismatch', data=mismatch),
        Device(sim_root, 'mismatch-on-query', data=lost_on_query),
        # Jetson-class: NVML answers only some calls (item 6 of the issue).
        Device(sim_root, 'partial-nvml', data=fleet.load_device('jetson_orin')),
    ]
    for device in devices:
        device.cases['gpu_info'] = [{}]
        device.cases['gpu_mode'] = [{'compute_mode': 'exclusive_process'}]
        if device.name not in ('set-no-permission', 'gpu-lost-mid-change', 'partial-nvml'):
            # (the mps module only reads NVML, which works there: the daemon would simply start)
            device.cases['mps'] = [dict(dirs(sim_root, device.name), gpus=[0], timeout=2)]
        device.cases['gpu_sharing'] = [sharing_args(sim_root, device.name)]
    devices[-1].cases['gpu_sharing'].append(sharing_args(sim_root, 'partial-nvml', strategy='time_slicing'))
    before = dict((device.name, nvml_state(sim_root, device.name)) for device in devices)

    found, _output = run_matrix(devices, sim_root, tmp_path)

    unavailable = {
        'no-pynvml': ('pynvml_missing', 'nvidia-ml-py'),
        'no-library': ('library_not_found', 'libnvidia-ml.so.1) was not found'),
        'driver-not-loaded': ('driver_not_loaded', 'kernel driver is not loaded'),
        'init-no-permission': ('no_permission', 'NVML failed while initialising', 'lack of permission'),
        'version-mismatch': ('version_mismatch', 'NVML failed while initialising', 'different versions', 'reboot'),
        'mismatch-on-query': ('version_mismatch', 'reading the UUID of GPU 1', 'reboot'),
    }
    for host, expected in unavailable.items():
        for module in MODULES:
            (result,) = found[host][module]
            clear_failure(result, *expected)
    # Reading works where only changes are refused or the GPU is lost on a change.
    for host in ('set-no-permission', 'gpu-lost-mid-change'):
        (info,) = found[host]['gpu_info']
        assert info['failed'] is False and len(info['gpu_info']['gpus']) == 2

    # No permission to change: the first set is refused, nothing changed.
    (mode,) = found['set-no-permission']['gpu_mode']
    clear_failure(mode, 'no_permission', 'setting the compute mode of GPU 0', 'lack of permission')
    (sharing,) = found['set-no-permission']['gpu_sharing']
    clear_failure(sharing, 'no_permission', 'setting the compute mode of GPU 0')

    # GPU 1 is lost while the second GPU's mode is set: GPU 0, already changed, is put back.
    (mode,) = found['gpu-lost-mid-change']['gpu_mode']
    clear_failure(mode, 'gpu_lost', 'setting the compute mode of GPU 1', 'GPU is lost', 'were undone')
    (sharing,) = found['gpu-lost-mid-change']['gpu_sharing']
    clear_failure(sharing, 'gpu_lost', 'setting the compute mode of GPU 1', 'were undone')

    # Partial NVML: every field it does not answer is None; what needs a compute mode is refused
    # naming the GPU; time-slicing (which needs none) converges.
    (info,) = found['partial-nvml']['gpu_info']
    assert info['failed'] is False, info
    (gpu,) = info['gpu_info']['gpus']
    assert gpu['uuid'] == fleet.load_device('jetson_orin')['gpus'][0]['uuid']
    assert [key for key in sorted(gpu) if gpu[key] is None] == [
        'compute_mode', 'memory', 'mig_mode', 'pci_bus_id', 'persistence_mode', 'power_draw', 'processes',
        'temperature', 'utilization', 'utilization_sampled']
    (mode,) = found['partial-nvml']['gpu_mode']
    clear_failure(mode, 'gpu_mode', 'GPU 0 (GPU-', 'does not support setting a compute mode')
    refused, sliced = found['partial-nvml']['gpu_sharing']
    clear_failure(refused, 'gpu_mode', 'GPU 0 (GPU-', 'does not support setting a compute mode')
    assert sliced['failed'] is False and sliced['strategies'] == {'0': 'time_slicing'}, sliced

    # Nothing lost: every device's NVML state as it was, no daemon, no pipe directory.
    for device in devices:
        assert nvml_state(sim_root, device.name) == before[device.name], device.name
        assert not os.path.exists(dirs(sim_root, device.name)['pipe_directory']), device.name
    assert mps_daemons_under(sim_root) == []


# ---- the MPS control daemon ---------------------------------------------------------------

def start_daemon(where, binary=MPS_CONTROL, env=None):
    """Start a control daemon the way its owner would, outside the module; its pid."""
    for path in where.values():
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o755)
    environ = dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=where['pipe_directory'],
                   CUDA_MPS_LOG_DIRECTORY=where['log_directory'], **(env or {}))
    subprocess.run([binary, '-d'], env=environ, check=True, timeout=10)
    for _attempt in range(100):
        pids = mps_daemons_under(where['pipe_directory'])
        if pids and os.path.exists(os.path.join(where['pipe_directory'], 'control_lock')):
            return pids[0]
        time.sleep(0.1)
    raise AssertionError('no daemon serves %s' % where['pipe_directory'])


def test_mps_faults(sim_root, tmp_path):
    single = fleet.load_device('t4_single')
    # The stand-in is a Python script (#!/usr/bin/env python): the venv's python is on the path.
    stand_in_path = os.pathsep.join([STAND_INS, os.path.dirname(sys.executable), SYSTEM_PATH])
    missing = Device(sim_root, 'no-control-program', data=single, path=SYSTEM_PATH)
    killed = Device(sim_root, 'daemon-killed', data=single)
    silent = Device(sim_root, 'never-answers', data=single, path=stand_in_path)
    silent_running = Device(sim_root, 'hangs-when-asked', data=single, path=stand_in_path)
    hung = Device(sim_root, 'hung-program', data=single, path=stand_in_path, env={'EDGE_GPU_FAKE_MPS': 'hung'})
    devices = [missing, killed, silent, silent_running, hung]

    started = dict(default_active_thread_percentage=20, timeout=2)
    missing.cases['mps'] = [dict(dirs(sim_root, missing.name), **started),
                            dict(dirs(sim_root, missing.name), state='stopped')]
    missing.cases['gpu_sharing'] = [sharing_args(sim_root, missing.name)]

    # A daemon killed with SIGKILL leaves its lock file, sockets and log behind.
    where = dirs(sim_root, killed.name)
    old_pid = start_daemon(where)
    assert mps_query(where['pipe_directory'], 'set_default_active_thread_percentage 30') == (0, '30.0')
    os.kill(old_pid, signal.SIGKILL)
    for _attempt in range(50):
        if old_pid not in mps_daemons_under(sim_root):
            break
        time.sleep(0.1)
    stale = sorted(os.listdir(where['pipe_directory']))
    assert 'control_lock' in stale and len(stale) > 1, stale
    killed.cases['mps'] = [dict(where, state='stopped'), dict(where, **started)]

    silent.cases['mps'] = [dict(dirs(sim_root, silent.name), **started)]
    silent.cases['gpu_sharing'] = [sharing_args(sim_root, silent.name, platform='none')]
    hung.cases['mps'] = [dict(dirs(sim_root, hung.name), **started)]

    # A daemon that ran fine and now hangs: the module must give up on it, naming it, not hang.
    where = dirs(sim_root, silent_running.name)
    hanging_pid = start_daemon(where, os.path.join(STAND_INS, 'nvidia-cuda-mps-control'), {'PATH': stand_in_path})
    silent_running.cases['mps'] = [dict(where, state='configured', default_active_thread_percentage=20, timeout=2),
                                   dict(where, state='stopped', timeout=2)]
    before = dict((device.name, nvml_state(sim_root, device.name)) for device in devices)

    begun = time.time()
    found, _output = run_matrix(devices, sim_root, tmp_path)
    elapsed = time.time() - begun

    # The control program is not installed: started fails naming it, stopped is already true.
    first, second = found[missing.name]['mps']
    clear_failure(first, 'mps', 'nvidia-cuda-mps-control not found')
    assert second['failed'] is False and second['changed'] is False and second['running'] is False
    (sharing,) = found[missing.name]['gpu_sharing']
    clear_failure(sharing, 'mps', 'MPS control program is not installed')

    # Killed: stopped finds nothing to stop; started starts a fresh daemon with the defaults.
    first, second = found[killed.name]['mps']
    assert first['failed'] is False and first['changed'] is False and first['running'] is False, first
    assert second['failed'] is False and second['changed'] is True and second['running'] is True, second
    pipe = dirs(sim_root, killed.name)['pipe_directory']
    assert second['pid'] != old_pid and mps_daemons_under(pipe) == [second['pid']]
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '20.0')

    # Starts, never answers: the module stops what it started and says so.
    (result,) = found[silent.name]['mps']
    clear_failure(result, 'mps', 'did not answer', 'was stopped again')
    (sharing,) = found[silent.name]['gpu_sharing']
    clear_failure(sharing, 'mps', 'did not answer', 'was stopped again', 'put back as it was')
    assert mps_daemons_under(dirs(sim_root, silent.name)['pipe_directory']) == []

    # The start itself hangs: bounded by the timeout, nothing left running.
    (result,) = found[hung.name]['mps']
    clear_failure(result, 'mps', 'did not answer', 'while starting', 'stopped after that long')
    assert mps_daemons_under(dirs(sim_root, hung.name)['pipe_directory']) == []

    # A running daemon that hangs when asked: each call gives up after the timeout, names the
    # daemon's pid, and leaves it (not this task's to kill) running.
    configured, stopped = found[silent_running.name]['mps']
    clear_failure(configured, 'mps', 'pid %d' % hanging_pid, 'did not answer', 'within 2s')
    clear_failure(stopped, 'mps', 'pid %d' % hanging_pid, 'did not answer', 'within 2s')
    assert mps_daemons_under(dirs(sim_root, silent_running.name)['pipe_directory']) == [hanging_pid]

    # Nothing lost: GPU modes as they were (gpu_sharing put GPU 0 back after the daemon failed).
    for device in devices:
        assert nvml_state(sim_root, device.name) == before[device.name], device.name
    # Bounded: the slowest case is a few 2 s timeouts, never the 3600 s the stand-ins sleep.
    assert elapsed < 120, elapsed


# ---- Ctrl-C and concurrent runs -----------------------------------------------------------

def site_command(results_dir, hosts, *more):
    return [os.path.join(BIN, 'ansible-playbook'), '-i', fleet.INVENTORY, '-i', EXAMPLE_INVENTORY, '-f', '10',
            '-e', json.dumps({'results_dir': results_dir}), '--limit', ','.join(hosts)] + list(more) + [
                'edge_gpu.sharing.site']


def sim_env(sim_root):
    return dict(os.environ, EDGE_GPU_SIM_ROOT=sim_root, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')


def recap(output):
    counts, seen = {}, False
    for line in output.splitlines():
        if line.startswith('PLAY RECAP'):
            seen, counts = True, {}
        elif seen and ':' in line and '=' in line:
            host, items = line.split(':', 1)
            counts[host.strip()] = dict((k, int(v)) for k, v in (item.split('=') for item in items.split()))
    return counts


def converged(sim_root, env, hosts, tmp_path, name):
    results_dir = str(tmp_path / name)
    os.makedirs(results_dir)
    proc = subprocess.run(site_command(results_dir, hosts), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False, timeout=300)
    return proc.returncode, proc.stdout


SIGINT_HOSTS = ['edge-01', 'edge-13', 'edge-25']


def test_sigint_mid_converge_then_two_reruns_at_once_then_idempotent(fleet_hosts, sim_root, tmp_path):
    env = sim_env(sim_root)
    results_dir = str(tmp_path / 'interrupted')
    os.makedirs(results_dir)
    proc = subprocess.Popen(site_command(results_dir, SIGINT_HOSTS), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, start_new_session=True)
    output, converging = [], False
    try:
        for line in proc.stdout:
            output.append(line)
            if "Converge the device's GPU sharing" in line:
                converging = True
            elif converging and line.startswith(('changed: [', 'ok: [', 'fatal: [')):
                # The first device is done, the others (edge-13 starting its MPS daemon) are not:
                # interrupt them in the middle, as Ctrl-C in the operator's terminal would.
                os.killpg(proc.pid, signal.SIGINT)
                break
        # Wait for ansible-playbook itself, not for the end of its output: a process it left
        # behind may hold the pipe open.
        reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # ansible-core can deadlock on the first Ctrl-C: its handler raises KeyboardInterrupt
            # wherever the main process is, inside its own locks too (seen here: the main process
            # waiting on a futex with all its workers gone; cf. ansible/ansible#29124). An operator
            # presses Ctrl-C again, and the handler is the default one by then.
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, ''.join(output)
    # Whatever was interrupted, a manifest on the device is whole or absent, never half-written.
    for host in SIGINT_HOSTS:
        manifest = os.path.join(sim_root, host, 'edge', 'deployment.json')
        if os.path.exists(manifest):
            with open(manifest) as handle:
                json.load(handle)

    # Two re-runs at once on the same devices: both end cleanly (one may be told the device is
    # busy), and together they finish the converge.
    procs = []
    for attempt in range(2):
        results_dir = str(tmp_path / ('rerun%d' % attempt))
        os.makedirs(results_dir)
        procs.append(subprocess.Popen(site_command(results_dir, SIGINT_HOSTS), env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, universal_newlines=True))
    succeeded = set()
    for proc in procs:
        output = proc.communicate(timeout=300)[0]
        assert 'Traceback' not in output and 'MODULE FAILURE' not in output, output[-3000:]
        counts = recap(output)
        assert sorted(counts) == SIGINT_HOSTS and not [h for h, c in counts.items() if c['unreachable']], output[-3000:]
        for host, host_counts in counts.items():
            if host_counts['failed']:
                assert '%s: FAILED' % host in output and 'busy' in output, output[-3000:]
            else:
                succeeded.add(host)
    assert sorted(succeeded) == SIGINT_HOSTS
    pipe = os.path.join(sim_root, 'edge-13', 'mps', 'pipe')
    assert len(mps_daemons_under(pipe)) == 1
    assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '50.0')
    assert not os.path.exists(pipe + '.lock')

    rc, output = converged(sim_root, env, SIGINT_HOSTS, tmp_path, 'idempotent')
    assert rc == 0, output[-3000:]
    assert dict((host, c['changed']) for host, c in recap(output).items()) == dict((host, 0) for host in SIGINT_HOSTS)


def test_two_mps_runs_on_one_device_at_once(sim_root, tmp_path):
    device = Device(sim_root, 'edge-13', data=fleet.load_device('t4_dual'))
    where = dirs(sim_root, device.name)
    device.cases['mps'] = [dict(where, gpus=[1], default_active_thread_percentage=20)]
    inventory = str(tmp_path / 'device.yml')
    with open(inventory, 'w') as handle:
        yaml.safe_dump({'all': {'hosts': {device.name: device.host_vars()}}}, handle)
    env = sim_env(sim_root)
    procs = []
    for attempt in range(2):
        results_dir = str(tmp_path / ('mps%d' % attempt))
        os.makedirs(results_dir)
        command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, '-e', json.dumps({'results_dir': results_dir}),
                   os.path.join(PLAYBOOKS, 'fault_matrix.yml')]
        procs.append((results_dir, subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                    universal_newlines=True)))
    results = []
    for results_dir, proc in procs:
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, output
        with open(os.path.join(results_dir, device.name + '.json')) as handle:
            results.extend(json.load(handle)['mps'])
    # Both end cleanly: one starts the daemon, the other finds it done (or is told it is busy).
    for result in results:
        if result.get('failed'):
            clear_failure(result, 'mps', 'busy', where['pipe_directory'] + '.lock')
        else:
            assert result['running'] is True
    assert len([r for r in results if not r.get('failed') and r['changed']]) == 1, results
    pids = mps_daemons_under(where['pipe_directory'])
    assert len(pids) == 1 and all(r['pid'] == pids[0] for r in results if not r.get('failed')), (pids, results)
    assert mps_query(where['pipe_directory'], 'get_default_active_thread_percentage') == (0, '20.0')
    assert not os.path.exists(where['pipe_directory'] + '.lock')
