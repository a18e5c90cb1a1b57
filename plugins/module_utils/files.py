# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Writing generated files: compare, diff, back up, then replace atomically.

Every module that writes a file goes through ``write_file`` so that check mode,
``--diff``, ``backup`` and "changed only when the bytes change" behave the same
everywhere, and a reader never sees half a file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import FileError


def read_bytes(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_file(module, dest, content, mode=0o644, backup=False):
    """Make ``dest`` hold ``content``; returns ``{changed, diff, backup_file}``."""
    data = to_bytes(content)
    old = read_bytes(dest)
    result = {'changed': False, 'backup_file': None, 'diff': {
        'before_header': dest, 'after_header': dest,
        'before': to_text(old) if old is not None else '', 'after': to_text(data)}}
    if old == data:
        result['diff']['before'] = result['diff']['after']
        return result
    if os.path.isdir(dest):
        raise FileError('dest %s is a directory, not a file' % dest)
    result['changed'] = True
    if module.check_mode:
        return result
    directory = os.path.dirname(os.path.abspath(dest))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if backup and old is not None:
            result['backup_file'] = module.backup_local(dest)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(dest))
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
        except Exception:
            os.unlink(tmp)
            raise
    except (IOError, OSError) as exc:
        raise FileError('cannot write %s: %s' % (dest, to_native(exc)))
    module.atomic_move(tmp, dest)
    # atomic_move gives a new file the umask's mode; files holding secrets must not be readable by all.
    try:
        os.chmod(dest, mode)
    except OSError as exc:
        raise FileError('cannot set the mode of %s: %s' % (dest, to_native(exc)))
    return result


def remove_file(module, path):
    """Remove a generated file that is no longer wanted; returns its diff."""
    old = read_bytes(path)
    if old is None:
        return None
    if not module.check_mode:
        try:
            os.unlink(path)
        except OSError as exc:
            raise FileError('cannot remove %s: %s' % (path, to_native(exc)))
    return {'before_header': path, 'after_header': path, 'before': to_text(old), 'after': ''}
