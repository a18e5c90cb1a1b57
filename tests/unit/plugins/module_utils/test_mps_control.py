# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import mps

GIB = 1024 ** 3


def test_daemon_environment_of_a_process_and_of_nothing():
    proc = subprocess.Popen(['sleep', '30'], env={'EDGE_GPU_PROBE': 'x=y', 'PATH': os.defpath})
    try:
        # Until the child has exec'd, /proc shows the parent's environment.
        for _attempt in range(200):
            if mps.daemon_environment(proc.pid).get('EDGE_GPU_PROBE'):
                break
            time.sleep(0.01)
        assert mps.daemon_environment(proc.pid)['EDGE_GPU_PROBE'] == 'x=y'
    finally:
        proc.kill()
        proc.wait()
    assert mps.daemon_environment(2 ** 22 + 7) == {}


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def control(mps_daemon, tmp_path, monkeypatch):
    clock = Clock()
    log_dir = tmp_path / 'log'
    log_dir.mkdir()
    return mps.MpsControl(mps_daemon.run_command, mps_daemon.BINARY, str(tmp_path / 'pipe'), str(log_dir),
                          timeout=2, timeout_binary='/usr/bin/timeout', sleep=clock.sleep, clock=clock.time)


def test_start_set_read_and_quit(control, mps_daemon):
    assert control.start(['GPU-a', 'GPU-b']) == 4242
    assert mps_daemon.env['CUDA_VISIBLE_DEVICES'] == 'GPU-a,GPU-b'
    assert mps_daemon.env['CUDA_MPS_PIPE_DIRECTORY'] == control.pipe_directory
    control.set_active_thread_percentage(20)
    control.set_pinned_mem_limit(0, 2 * GIB)
    control.set_client_priority(1)
    assert control.active_thread_percentage() == 20.0
    assert control.pinned_mem_limit(0) == '2G'
    assert control.pinned_mem_limit(1) is None
    assert control.client_priority() == 1
    assert 'set_default_active_thread_percentage 20' in mps_daemon.calls
    control.stop()
    assert control.pid() is None


def test_fractional_percentage_is_sent_as_given(control, mps_daemon):
    control.start()
    control.set_active_thread_percentage(33.5)
    assert 'set_default_active_thread_percentage 33.5' in mps_daemon.calls


def test_clients_of_every_server(control, mps_daemon):
    control.start()
    mps_daemon.servers = [10, 11]
    mps_daemon.clients = {10: [100, 101]}
    assert control.server_pids() == [10, 11]
    assert control.client_pids() == [100, 101]


def test_unknown_command_is_an_error_although_the_client_exits_0(control, mps_daemon):
    control.start()
    with pytest.raises(mps.MpsError) as info:
        control.query('frobnicate')
    assert 'does not know' in str(info.value)


def test_no_daemon_is_an_error_with_its_words(control):
    with pytest.raises(mps.MpsError) as info:
        control.server_pids()
    assert 'Cannot find MPS control daemon process' in str(info.value)


@pytest.mark.parametrize('setter, args, command', [
    ('set_active_thread_percentage', (20,), 'set_default_active_thread_percentage'),
    ('set_pinned_mem_limit', (0, GIB), 'set_default_device_pinned_mem_limit'),
    ('set_client_priority', (1,), 'set_default_client_priority'),
])
def test_refused_value_is_an_error_with_the_log(control, mps_daemon, setter, args, command):
    control.start()
    mps_daemon.refuse.add(command)
    with open(control.log_directory + '/control.log', 'w') as handle:
        handle.write('[Control] Invalid value\n')
    with pytest.raises(mps.MpsError) as info:
        getattr(control, setter)(*args)
    assert 'refused' in str(info.value)


def test_unexpected_answer_to_a_getter(control, mps_daemon):
    control.start()
    mps_daemon.refuse.add('get_default_active_thread_percentage')
    with pytest.raises(mps.MpsError) as info:
        control.active_thread_percentage()
    assert "unexpected answer" in str(info.value)


def test_failed_start_includes_the_control_log(control, mps_daemon):
    mps_daemon.start_rc = 1
    with open(control.log_directory + '/control.log', 'w') as handle:
        handle.write('line 1\n[Control] Failed to bind socket\n')
    with pytest.raises(mps.MpsError) as info:
        control.start()
    message = str(info.value)
    assert 'rc=1' in message and 'Failed to bind socket' in message


def test_failed_start_without_a_log(control, mps_daemon):
    mps_daemon.start_rc = 1
    with pytest.raises(mps.MpsError) as info:
        control.start()
    assert '(no control log at' in str(info.value)


def test_empty_log(control, mps_daemon):
    open(control.log_directory + '/control.log', 'w').close()
    assert 'is empty' in control.log_tail()


@pytest.mark.parametrize('command', ['get_server_list', '-d'])
def test_hung_daemon_is_bounded(control, mps_daemon, command):
    if command != '-d':
        control.start()
    mps_daemon.hang_on.add(command)
    with pytest.raises(mps.MpsError) as info:
        control.start() if command == '-d' else control.server_pids()
    assert 'did not answer' in str(info.value) and 'within 2s' in str(info.value)


def test_daemon_that_never_serves_after_start_times_out(control, mps_daemon, monkeypatch):
    monkeypatch.setattr(mps, 'daemon_pid', lambda pipe: None)
    with pytest.raises(mps.MpsError) as info:
        control.start()
    assert 'did not answer within 2s of starting' in str(info.value)


def test_daemon_that_does_not_exit_after_quit_times_out(control, mps_daemon, monkeypatch):
    control.start()
    monkeypatch.setattr(mps, 'daemon_pid', lambda pipe: 4242)
    with pytest.raises(mps.MpsError) as info:
        control.stop()
    assert 'did not exit within 2s of quit' in str(info.value)


def run_command(args, data=None, environ_update=None, **_kwargs):
    """AnsibleModule.run_command's contract, enough for MpsControl."""
    proc = subprocess.run(args, input=data, env=dict(os.environ, **(environ_update or {})), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_without_coreutils_timeout_the_interpreter_bounds_every_call(tmp_path):
    hangs = tmp_path / 'nvidia-cuda-mps-control'
    hangs.write_text('#!/bin/sh\nsleep 30\n')
    hangs.chmod(0o755)
    control = mps.MpsControl(run_command, str(hangs), str(tmp_path), str(tmp_path), timeout=1)
    assert control._command('-d')[-2:] == [str(hangs), '-d'] and control._command('-d')[0] == sys.executable
    begun = time.time()
    with pytest.raises(mps.MpsError) as info:
        control.query('get_server_list')
    assert time.time() - begun < 20
    assert "did not answer 'get_server_list' within 1s" in str(info.value)


def test_without_coreutils_timeout_an_answer_passes_through(tmp_path):
    answers = tmp_path / 'nvidia-cuda-mps-control'
    answers.write_text('#!/bin/sh\nread command\necho "42.0"\n')
    answers.chmod(0o755)
    control = mps.MpsControl(run_command, str(answers), str(tmp_path), str(tmp_path), timeout=5)
    assert control.active_thread_percentage() == 42.0


@pytest.mark.parametrize('stops', [True, False])
def test_daemon_that_starts_but_never_answers_is_stopped_or_named(control, mps_daemon, stops):
    mps_daemon.hang_on.add('get_server_list')
    mps_daemon.terminate_works = stops
    with pytest.raises(mps.MpsError) as info:
        control.start()
    assert mps_daemon.terminated == [4242]
    assert 'did not answer' in str(info.value)
    if stops:
        assert 'the daemon this task started (pid 4242) was stopped again' in str(info.value)
    else:
        assert 'is left running' in str(info.value) and 'kill 4242' in str(info.value)


def test_failed_start_with_no_daemon_left_signals_nothing(control, mps_daemon):
    mps_daemon.start_rc = 1
    with pytest.raises(mps.MpsError):
        control.start()
    assert mps_daemon.terminated == []


@pytest.mark.parametrize('fault', ['refused', 'hung'])
def test_a_failed_start_never_stops_a_daemon_that_was_already_there(control, mps_daemon, fault):
    # Someone else's daemon (systemd's, an operator's) must survive this task's failed "-d".
    control.start()
    if fault == 'refused':
        mps_daemon.start_rc = 1
    else:
        mps_daemon.hang_on.add('-d')
    with pytest.raises(mps.MpsError) as info:
        control.start()
    assert mps_daemon.terminated == [] and 'stopped again' not in str(info.value)


def test_hung_call_names_the_daemon_pid(control, mps_daemon):
    control.start()
    mps_daemon.hang_on.add('get_default_active_thread_percentage')
    with pytest.raises(mps.MpsError) as info:
        control.active_thread_percentage()
    assert 'the MPS control daemon (pid 4242) did not answer' in str(info.value)


def stand_in(tmp_path, name):
    """A process whose command line names ``name``, as a daemonised control program's does."""
    script = tmp_path / name
    script.write_text('#!/bin/sh\nsleep 30\nexit 0\n')
    script.chmod(0o755)
    return subprocess.Popen([str(script)])


@pytest.mark.parametrize('name, stopped', [('nvidia-cuda-mps-control', True), ('some-other-program', False)])
def test_terminate_signals_only_the_control_program(tmp_path, monkeypatch, name, stopped):
    proc = stand_in(tmp_path, name)
    try:
        monkeypatch.setattr(mps, 'daemon_pid', lambda pipe: proc.pid if proc.poll() is None else None)
        control = mps.MpsControl(None, str(tmp_path / 'nvidia-cuda-mps-control'), str(tmp_path), str(tmp_path),
                                 timeout=2)
        for _attempt in range(100):  # until the shell has exec'd the script
            with open('/proc/%d/cmdline' % proc.pid, 'rb') as handle:
                if name.encode() in handle.read():
                    break
            time.sleep(0.01)
        assert control._terminate(proc.pid) is stopped
        assert (proc.poll() is not None) is stopped
    finally:
        proc.kill()
        proc.wait()


HOLDER = '''
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
print('locked', flush=True)
time.sleep(30)
'''


def test_converge_lock_waits_then_says_who_is_busy(tmp_path):
    pipe = str(tmp_path / 'mps' / 'pipe')
    os.makedirs(os.path.dirname(pipe))
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, pipe + '.lock'], stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        clock = Clock()
        with pytest.raises(mps.MpsError) as info:
            with mps.converge_lock(pipe, 3, sleep=clock.sleep, clock=clock.time):
                pass
        assert 'busy' in str(info.value) and '(pid %d)' % holder.pid in str(info.value)
        assert pipe + '.lock' in str(info.value) and clock.now >= 3
    finally:
        holder.kill()
        holder.wait()
    with mps.converge_lock(pipe, 3) as path:
        assert path == pipe + '.lock'


def test_converge_lock_creates_nothing_unless_asked_and_leaves_nothing(tmp_path):
    pipe = str(tmp_path / 'mps' / 'pipe')
    with mps.converge_lock(pipe, 1, create=False) as path:
        assert path is None
    assert os.listdir(str(tmp_path)) == []
    with mps.converge_lock(pipe, 1, create=True) as path:
        assert path is None  # its parent is missing and nothing here will start a daemon
    assert os.listdir(str(tmp_path)) == []
    with mps.converge_lock(pipe, 1, create=True, parents=True) as path:
        assert path == pipe + '.lock' and os.path.isfile(path)
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    # The parent a start needs stays; the lock file goes with the run.
    assert os.listdir(os.path.dirname(pipe)) == []


def test_check_mode_waits_for_a_run_in_progress(tmp_path):
    pipe = str(tmp_path / 'pipe')
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, pipe + '.lock'], stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        clock = Clock()
        with pytest.raises(mps.MpsError) as info:
            with mps.converge_lock(pipe, 1, create=False, sleep=clock.sleep, clock=clock.time):
                pass
        assert 'busy' in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_file_replaced_while_waiting_is_locked_anew(tmp_path, monkeypatch):
    pipe = str(tmp_path / 'pipe')
    real_try_lock = mps._try_lock
    replaced = []

    def try_lock(fd, path):
        if not replaced:
            # The run before removes its file (and a third run creates a new one) as this one locks.
            os.unlink(path)
            with open(path, 'w'):
                pass
            replaced.append(path)
        return real_try_lock(fd, path)
    monkeypatch.setattr(mps, '_try_lock', try_lock)
    with mps.converge_lock(pipe, 1) as path:
        held = os.stat(path)
        assert replaced == [path] and held.st_ino == os.stat(pipe + '.lock').st_ino


def test_converge_lock_leaves_a_bad_parent_to_the_directory_checks(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with mps.converge_lock(str(blocker / 'pipe'), 1, parents=True) as path:
        assert path is None


@pytest.mark.parametrize('plant', ['link', 'foreign', 'world-writable'])
def test_a_planted_converge_lock_is_refused_by_name(tmp_path, plant):
    # A pipe directory in /tmp puts its lock there too, where any user may create files.
    if plant == 'foreign' and os.geteuid() != 0:
        pytest.skip('needs root to give the lock file to nobody')
    pipe = str(tmp_path / 'nvidia-mps')
    lock = pipe + '.lock'
    if plant == 'link':
        os.symlink(str(tmp_path / 'elsewhere'), lock)
    else:
        with open(lock, 'w'):
            pass
        os.chmod(lock, 0o666 if plant == 'world-writable' else 0o600)
        if plant == 'foreign':
            os.chown(lock, 65534, 65534)
    with pytest.raises(mps.MpsError) as info:
        with mps.converge_lock(pipe, 1):
            pass
    assert lock in str(info.value) and 'remove it' in str(info.value)
    assert not os.path.exists(str(tmp_path / 'elsewhere'))
