# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Knowledge of NVIDIA's MPS control daemon (``nvidia-cuda-mps-control``).

Plain Python, no Ansible imports. This file talks to the daemon (its lock, its environment,
its commands and replies); ``mps_daemon.py`` decides what to ask of it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import signal
import stat
import struct
import sys
import time
from contextlib import contextmanager

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import MpsError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.units import memory_text, number_text

CONTROL_BINARY = 'nvidia-cuda-mps-control'
# Where NVIDIA's packages and containers put the control program, beside PATH.
SYSTEM_BIN_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/local/nvidia/bin', '/opt/nvidia/bin']

# The daemon writes no pid file. While it runs it holds a POSIX write lock on
# ``control_lock`` in its pipe directory (the socket files outlive it), so the lock,
# not the files, says whether a daemon serves that directory, and F_GETLK says which.
CONTROL_LOCK = 'control_lock'

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
_FLOCK = 'hhqqi'

# Our own lock, beside the pipe directory (``<pipe_directory>.lock``): one run at a time reads
# and changes a daemon (and, for gpu_sharing, the GPU modes and manifest that go with it).
CONVERGE_LOCK_SUFFIX = '.lock'


def _lock_holder(fd):
    """The pid holding a POSIX write lock on ``fd``'s file, or ``None``."""
    query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
    lock_type, _whence, _start, _length, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    if lock_type == fcntl.F_UNLCK or pid <= 0:
        return None
    return pid


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
        return _lock_holder(fd)
    finally:
        os.close(fd)


def converge_lock_path(pipe_directory):
    return pipe_directory.rstrip(os.sep) + CONVERGE_LOCK_SUFFIX


def _open_converge_lock(path, create, parents):
    """The lock file's descriptor, or ``None`` where there is nothing to lock (see ``converge_lock``)."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        if not (create and parents) or os.path.lexists(parent):
            return None
        try:
            os.makedirs(parent, 0o755)
        except OSError:
            return None  # the pipe directory's own checks say why it cannot be created
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | (os.O_CREAT if create else 0), 0o600)
    except OSError as exc:
        if not create:
            return None  # no lock file yet (nothing ever changed here), or not ours to lock
        if exc.errno == errno.ELOOP:
            raise MpsError('the lock file %s is a symbolic link; remove it' % path)
        raise MpsError('cannot open the lock file %s: %s' % (path, exc.strerror))
    # Beside a pipe directory in /tmp, another user could plant the lock: a file of theirs (or one
    # anybody may write) is refused, as a pipe directory of theirs is.
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
        os.close(fd)
        raise MpsError('the lock file %s is not a regular file of root or this user with no write access for '
                       'others (owner uid %d, mode %04o); remove it' % (path, info.st_uid, stat.S_IMODE(info.st_mode)))
    return fd


def _same_file(fd, path):
    """Whether ``path`` still names the file open as ``fd`` (the run before may have removed it)."""
    try:
        now = os.lstat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _try_lock(fd, path):
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except (IOError, OSError) as exc:
        if exc.errno not in (errno.EACCES, errno.EAGAIN):
            raise MpsError('cannot lock %s: %s' % (path, exc.strerror))
        return False


@contextmanager
def converge_lock(pipe_directory, wait, create=True, parents=False, sleep=time.sleep, clock=time.time):
    """Hold ``<pipe_directory>.lock`` while one run reads and changes the daemon of ``pipe_directory``.

    Two runs against one device (two ansible-playbook runs, or a run and an operator's) would
    otherwise both find no daemon and both start one, or interleave their defaults. The second
    run waits up to ``wait`` seconds, then fails with a message naming the lock and its holder.
    The holder removes the file when it is done, so a device keeps no trace of a run (a run
    that finds it replaced locks the new one). ``create=False`` (check mode) creates nothing: it
    waits only for a run in progress; ``parents`` (a run that may start the daemon) creates the
    pipe directory's parent when it is missing. Yields the lock file's path, or ``None`` when
    nothing was locked.
    """
    path = converge_lock_path(pipe_directory)
    deadline = clock() + wait
    while True:
        fd = _open_converge_lock(path, create, parents)
        if fd is None:
            yield None
            return
        try:
            locked = _try_lock(fd, path)
            if locked and _same_file(fd, path):
                break
            holder = None if locked else _lock_holder(fd)
        except Exception:
            os.close(fd)
            raise
        os.close(fd)
        if locked:
            continue  # the run before removed the file as this one opened it: lock the next one
        if clock() >= deadline:
            who = 'another run' if holder is None else 'another run (pid %s)' % holder
            raise MpsError('busy: %s is changing the MPS daemon of %s and still holds %s after %ss; '
                           'run again when it has finished' % (who, pipe_directory, path, wait))
        sleep(0.2)
    try:
        yield path
    finally:
        try:
            if _same_file(fd, path):
                os.unlink(path)
        except OSError:
            pass  # a lock file left behind only costs the next run an open()
        os.close(fd)


def daemon_status(pipe_directory):
    """What ``gpu_info`` reports about the MPS control daemon of one pipe directory."""
    try:
        pid = daemon_pid(pipe_directory)
    except OSError as exc:
        return {'pipe_directory': pipe_directory, 'running': None, 'pid': None,
                'error': 'cannot read %s: %s' % (os.path.join(pipe_directory, CONTROL_LOCK), exc.strerror)}
    return {'pipe_directory': pipe_directory, 'running': pid is not None, 'pid': pid, 'error': None}


# ---- talking to the control daemon --------------------------------------------------------

# coreutils' timeout exits 124 when it had to stop the command.
_TIMED_OUT = 124

# Where coreutils' timeout is missing (a minimal image), the module's own interpreter bounds the
# call instead, with the same exit code: no call to the control program may block the task.
_PYTHON_TIMEOUT = '''import os, signal, subprocess, sys
proc = subprocess.Popen(sys.argv[2:], start_new_session=True)
try:
    sys.exit(proc.wait(float(sys.argv[1])))
except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    sys.exit(124)
'''


def find_control_binary(name, get_bin_path):
    """The control program: a name looked up on PATH and in ``SYSTEM_BIN_DIRS`` through
    ``get_bin_path`` (``AnsibleModule.get_bin_path``), or a path that must be executable;
    ``None`` when there is none."""
    if os.sep not in name:
        return get_bin_path(name, opt_dirs=SYSTEM_BIN_DIRS)
    return name if os.access(name, os.X_OK) else None


def daemon_environment(pid):
    """The environment of a running daemon (``{}`` if it cannot be read)."""
    try:
        with open('/proc/%d/environ' % pid, 'rb') as handle:
            raw = handle.read()
    except (IOError, OSError):
        return {}
    env = {}
    for item in raw.split(b'\0'):
        if b'=' in item:
            key, value = item.split(b'=', 1)
            env[key.decode('utf-8', 'replace')] = value.decode('utf-8', 'replace')
    return env


class MpsControl(object):
    """One MPS control daemon, addressed by its pipe directory.

    ``run_command`` is ``AnsibleModule.run_command`` (argument lists, stdin as ``data``);
    ``sleep`` and ``clock`` are injectable so that waiting can be tested.
    """

    def __init__(self, run_command, binary, pipe_directory, log_directory, timeout=10, timeout_binary=None,
                 sleep=time.sleep, clock=time.time):
        self.run_command = run_command
        self.binary = binary
        self.pipe_directory = pipe_directory
        self.log_directory = log_directory
        self.timeout = timeout
        self.timeout_binary = timeout_binary
        self.sleep = sleep
        self.clock = clock

    def _command(self, *args):
        # A daemon that accepts the connection but never answers would block the client
        # (and the task) for ever; coreutils' timeout bounds every call.
        command = [self.binary] + list(args)
        if self.timeout_binary:
            return [self.timeout_binary, str(self.timeout)] + command
        return [sys.executable, '-c', _PYTHON_TIMEOUT, str(self.timeout)] + command

    def _check_hung(self, rc, what):
        if rc == _TIMED_OUT:
            try:
                pid = self.pid()
            except OSError:
                pid = None
            daemon = 'the MPS control daemon' if pid is None else 'the MPS control daemon (pid %s)' % pid
            raise MpsError('%s did not answer %s within %ss (%s was stopped after that long); control log:\n%s'
                           % (daemon, what, self.timeout, self.binary, self.log_tail()))

    def using_log_directory(self, log_directory):
        """The same daemon addressed with another log directory (the one a running daemon uses)."""
        return MpsControl(self.run_command, self.binary, self.pipe_directory, log_directory, timeout=self.timeout,
                          timeout_binary=self.timeout_binary, sleep=self.sleep, clock=self.clock)

    @property
    def environ(self):
        return {'CUDA_MPS_PIPE_DIRECTORY': self.pipe_directory, 'CUDA_MPS_LOG_DIRECTORY': self.log_directory}

    def pid(self):
        return daemon_pid(self.pipe_directory)

    def log_tail(self, lines=10):
        path = os.path.join(self.log_directory, 'control.log')
        try:
            with open(path) as handle:
                tail = handle.read().splitlines()[-lines:]
        except (IOError, OSError):
            return '(no control log at %s)' % path
        return '\n'.join(tail) if tail else '(control log %s is empty)' % path

    # Every reply is parsed: the client exits 0 for unknown commands and refused values.
    def query(self, command):
        rc, out, err = self.run_command(self._command(), data=command, environ_update=self.environ,
                                        check_rc=False, binary_data=False)
        self._check_hung(rc, repr(command))
        reply = (out or '').strip()
        if rc != 0:
            raise MpsError('%s %r failed (rc=%d): %s' % (self.binary, command, rc, (reply + ' ' + (err or '')).strip()))
        if reply.startswith('Unknown command'):
            raise MpsError('the MPS control daemon does not know %r: %s' % (command, reply))
        return reply

    def server_pids(self):
        return [int(word) for word in self.query('get_server_list').split()]

    def client_pids(self):
        clients = []
        for server in self.server_pids():
            reply = self.query('get_client_list %d' % server)
            if reply.endswith('not found'):
                continue
            clients.extend(int(word) for word in reply.split())
        return clients

    def active_thread_percentage(self):
        return self._float('get_default_active_thread_percentage')

    def set_active_thread_percentage(self, value):
        command = 'set_default_active_thread_percentage %s' % number_text(value)
        reply = self.query(command)
        if _float_or_none(reply) != float(value):
            raise MpsError('the MPS control daemon refused %r (it answered %r); its log says:\n%s'
                           % (command, reply, self.log_tail(3)))

    def pinned_mem_limit(self, device):
        return self.query('get_default_device_pinned_mem_limit %d' % device) or None

    def set_pinned_mem_limit(self, device, size):
        text = memory_text(size)
        command = 'set_default_device_pinned_mem_limit %d %s' % (device, text)
        reply = self.query(command)
        if reply or self.pinned_mem_limit(device) != text:
            raise MpsError('the MPS control daemon refused %r: %s' % (command, reply or self.log_tail(3)))

    def client_priority(self):
        value = self._float('get_default_client_priority')
        return None if value is None else int(value)

    def set_client_priority(self, value):
        command = 'set_default_client_priority %d' % value
        reply = self.query(command)
        if reply or self.client_priority() != value:
            raise MpsError('the MPS control daemon refused %r: %s' % (command, reply or self.log_tail(3)))

    def _float(self, command):
        reply = self.query(command)
        value = _float_or_none(reply)
        if value is None and reply:
            raise MpsError('unexpected answer to %r: %r' % (command, reply))
        return value

    def start(self, visible_devices=None):
        """Start the daemon and wait until it answers; ``MpsError`` with its log otherwise.

        A daemon that this call started but that never answers is stopped again (it does not
        answer ``quit`` either, so with a signal); the message says so, or gives its pid.
        """
        environ = dict(self.environ)
        if visible_devices:
            environ['CUDA_VISIBLE_DEVICES'] = ','.join(visible_devices)
        # A daemon that was there before this start (or that "-d" refused to replace) is not
        # this task's to stop.
        try:
            before = self.pid()
        except OSError:
            before = None
        rc = None
        try:
            rc, out, err = self.run_command(self._command('-d'), environ_update=environ, check_rc=False)
            self._check_hung(rc, 'while starting')
            if rc != 0:
                raise MpsError('%s -d failed to start the MPS control daemon (rc=%d): %s\ncontrol log:\n%s'
                               % (self.binary, rc, ((out or '') + (err or '')).strip() or '(no output)',
                                  self.log_tail()))
            return self._wait_until_serving()
        except MpsError as exc:
            started = rc in (0, _TIMED_OUT)
            raise MpsError('%s%s' % (exc, self._stop_unanswering(before) if started else ''))

    def _wait_until_serving(self):
        deadline = self.clock() + self.timeout
        while True:
            if self.pid() is not None:
                try:
                    self.server_pids()
                    return self.pid()
                except MpsError:
                    pass
            if self.clock() >= deadline:
                raise MpsError('the MPS control daemon did not answer within %ss of starting; control log:\n%s'
                               % (self.timeout, self.log_tail()))
            self.sleep(0.1)

    def _stop_unanswering(self, before=None):
        """Stop the daemon a failed start left holding the pipe directory (not ``before``, the one
        that was there already); says what became of it."""
        try:
            pid = self.pid()
        except OSError:
            return ''
        if pid is None or pid == before:
            return ''
        if self._terminate(pid):
            return '; the daemon this task started (pid %d) was stopped again' % pid
        return ('; the daemon this task started (pid %d) could not be stopped and is left running: stop it '
                '(kill %d) before the next run' % (pid, pid))

    def _terminate(self, pid):
        """SIGTERM, then SIGKILL, to ``pid`` if it is this control program; whether it is gone."""
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read()
        except (IOError, OSError):
            return self.pid() != pid
        if os.path.basename(self.binary).encode() not in cmdline:
            return False
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError as exc:
                if exc.errno == errno.ESRCH:
                    return True
                return False
            deadline = self.clock() + min(self.timeout, 5)
            while self.clock() < deadline:
                if self.pid() != pid:
                    return True
                self.sleep(0.1)
        return self.pid() != pid

    def stop(self):
        """Send ``quit`` and wait (bounded) until the daemon and its servers are gone."""
        self.query('quit')
        deadline = self.clock() + self.timeout
        while self.pid() is not None:
            if self.clock() >= deadline:
                raise MpsError('the MPS control daemon (pid %s) did not exit within %ss of quit; control log:\n%s'
                               % (self.pid(), self.timeout, self.log_tail()))
            self.sleep(0.1)


def _float_or_none(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
