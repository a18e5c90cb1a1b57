# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import mps

# Holds a POSIX write lock on ARGV[1] the way the control daemon holds control_lock,
# then waits for stdin to close. (A process never sees its own locks through F_GETLK,
# so the holder must be another process.)
HOLDER = '''
import fcntl, sys
handle = open(sys.argv[1], "a")
fcntl.lockf(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
'''


@pytest.fixture
def lock_holder(tmp_path):
    path = str(tmp_path / mps.CONTROL_LOCK)
    proc = subprocess.Popen([sys.executable, '-c', HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b'locked'
    yield proc
    proc.stdin.close()
    proc.wait()


def test_running_daemon_is_found_by_its_lock(tmp_path, lock_holder):
    assert mps.daemon_pid(str(tmp_path)) == lock_holder.pid
    assert mps.daemon_status(str(tmp_path)) == {
        'pipe_directory': str(tmp_path), 'running': True, 'pid': lock_holder.pid, 'error': None}


def test_leftover_files_of_a_dead_daemon_mean_not_running(tmp_path):
    (tmp_path / mps.CONTROL_LOCK).write_text('')
    (tmp_path / 'control').write_text('')
    assert mps.daemon_status(str(tmp_path))['running'] is False


@pytest.mark.parametrize('where', ['missing', 'file'])
def test_missing_pipe_directory_means_not_running(tmp_path, where):
    path = tmp_path / 'pipe'
    if where == 'file':
        path.write_text('not a directory')
    assert mps.daemon_status(str(path)) == {'pipe_directory': str(path), 'running': False, 'pid': None, 'error': None}


def test_unreadable_lock_file_is_reported_not_guessed(tmp_path, monkeypatch):
    def refuse(path, flags):
        raise OSError(13, 'Permission denied', path)
    monkeypatch.setattr(mps.os, 'open', refuse)
    status = mps.daemon_status(str(tmp_path))
    assert status['running'] is None
    assert status['error'] == 'cannot read %s: Permission denied' % os.path.join(str(tmp_path), mps.CONTROL_LOCK)
