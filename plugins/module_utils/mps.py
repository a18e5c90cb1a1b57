# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Knowledge of NVIDIA's MPS control daemon (``nvidia-cuda-mps-control``).

Plain Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import struct

DEFAULT_PIPE_DIRECTORY = '/tmp/nvidia-mps'
CONTROL_BINARY = 'nvidia-cuda-mps-control'

# The daemon writes no pid file. While it runs it holds a POSIX write lock on
# ``control_lock`` in its pipe directory (the socket files outlive it), so the lock,
# not the files, says whether a daemon serves that directory, and F_GETLK says which.
CONTROL_LOCK = 'control_lock'

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
_FLOCK = 'hhqqi'


def daemon_pid(pipe_directory):
    """The pid of the control daemon serving ``pipe_directory``, or ``None``.

    Raises ``OSError`` only for what prevents an answer (for example no permission
    to open the lock file); a missing directory or lock file means no daemon.
    """
    path = os.path.join(pipe_directory, CONTROL_LOCK)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        lock_type, _whence, _start, _length, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    finally:
        os.close(fd)
    if lock_type == fcntl.F_UNLCK or pid <= 0:
        return None
    return pid


def daemon_status(pipe_directory):
    """What ``gpu_info`` reports about the MPS control daemon of one pipe directory."""
    try:
        pid = daemon_pid(pipe_directory)
    except OSError as exc:
        return {'pipe_directory': pipe_directory, 'running': None, 'pid': None,
                'error': 'cannot read %s: %s' % (os.path.join(pipe_directory, CONTROL_LOCK), exc.strerror)}
    return {'pipe_directory': pipe_directory, 'running': pid is not None, 'pid': pid, 'error': None}
