# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Writing generated files: compare, diff, back up, then replace atomically.

Every module that writes a file goes through ``write_file`` so that check mode,
``--diff``, ``backup``, the ``owner``/``group``/``mode`` options and "changed only when
something changed" behave the same everywhere, and a reader never sees half a file.

Rules that hold for every file written here:

* the mode (and the owner and group, when given) is checked on every run, also when the
  content is equal, and put right (``changed``, with a diff of the attributes);
* a file that holds credentials (``secret``) is 0600 unless a mode is given, and a mode that
  lets others in (any bit for others, or group write) is refused;
* ``dest`` is never followed when it is a symbolic link, and another user's file in a
  sticky, world-writable directory (``/tmp``) is never replaced;
* every ``OSError`` becomes a ``FileError`` naming the file and the reason; the old file is
  left as it was and no temporary file or backup made by the failed run is left behind.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import grp
import os
import pwd
import shutil
import stat
import tempfile
import time

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import FileError, InvalidOption

# The options every module that writes a file has (documented in doc_fragments/file_attributes.py).
FILE_ARGUMENT_SPEC = dict(
    mode=dict(type='raw'),
    owner=dict(type='str'),
    group=dict(type='str'),
)

DEFAULT_MODE = 0o644
SECRET_MODE = 0o600
# Bits a file holding credentials may not have: any access for others, group write or execute.
SECRET_FORBIDDEN_BITS = 0o037


# ---- options -----------------------------------------------------------------------------

def parse_mode(value, option='mode'):
    """An octal file mode (``'0600'``, ``'600'``, ``'0o600'``, or an int); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidOption('%s: %r is not a file mode; give an octal string such as \'0600\'' % (option, value))
    if isinstance(value, int):
        mode = value
    else:
        text = to_text(value).strip()
        digits = text[2:] if text.lower().startswith('0o') else text
        if not digits or any(char not in '01234567' for char in digits):
            raise InvalidOption('%s: %r is not an octal file mode; give one such as \'0600\' '
                                '(symbolic modes like u=rw are not accepted)' % (option, value))
        mode = int(digits, 8)
    if not 0 <= mode <= 0o7777:
        raise InvalidOption('%s: %r is out of range for a file mode (0000 to 07777)' % (option, value))
    return mode


# The largest id a file may have: (uid_t)-1 means "leave unchanged" to chown.
_MAX_ID = 2 ** 32 - 2


def _id(value, option, lookup, what):
    text = to_text(value).strip()
    try:
        return lookup(text)
    except (KeyError, ValueError):
        # ValueError: a name with a NUL byte, which no user or group has.
        if text.isdigit() and int(text) <= _MAX_ID:
            return int(text)
    raise InvalidOption('%s: there is no %s %r on this host (a name, or an id from 0 to %d)'
                        % (option, what, value, _MAX_ID))


def _uid(value, option):
    return _id(value, option, lambda name: pwd.getpwnam(name).pw_uid, 'user')


def _gid(value, option):
    return _id(value, option, lambda name: grp.getgrnam(name).gr_gid, 'group')


def file_attributes(params, secret=False, prefix='', dest_option='dest'):
    """Check ``<prefix>mode``, ``<prefix>owner`` and ``<prefix>group`` before anything changes.

    ``secret``: the file holds credentials: 0600 by default, and a mode that lets others read
    it (or the group write it) is refused. Returns what ``write_file`` takes as ``attributes``.
    """
    names = dict((key, prefix + key) for key in ('mode', 'owner', 'group'))
    mode = parse_mode(params.get(names['mode']), names['mode'])
    if secret and mode is not None and mode & SECRET_FORBIDDEN_BITS:
        raise InvalidOption('%s: %04o would let other users read or change %s, which holds credentials; '
                            'use 0600 (or 0640 with %s)' % (names['mode'], mode, params.get(dest_option) or dest_option,
                                                            names['group']))
    owner, group = params.get(names['owner']), params.get(names['group'])
    return {
        'mode': mode,
        'uid': None if owner in (None, '') else _uid(owner, names['owner']),
        'gid': None if group in (None, '') else _gid(group, names['group']),
        'secret': bool(secret),
    }


def _attributes(attributes):
    if attributes is None:
        return {'mode': None, 'uid': None, 'gid': None, 'secret': False}
    return dict({'mode': None, 'uid': None, 'gid': None, 'secret': False}, **attributes)


# ---- reading -----------------------------------------------------------------------------

def _reason(exc):
    """``permission denied``, ``no space left on device``, ... for an OSError."""
    text = exc.strerror or str(exc)
    return to_text(text).lower()


def _error(doing, path, exc):
    return FileError('cannot %s %s: %s' % (doing, path, _reason(exc)))


def read_bytes(path):
    """The bytes of ``path``; ``None`` when there is no such file. Never follows a symbolic link."""
    flags = os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
            return None
        if exc.errno == errno.ELOOP:
            raise FileError('%s is a symbolic link; refusing to read or write through it' % path)
        raise _error('read', path, exc)
    try:
        with os.fdopen(fd, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise _error('read', path, exc)


def _lstat(path):
    try:
        return os.lstat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise _error('inspect', path, exc)


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def describe(info):
    """The attributes of a file as ``--diff`` shows them."""
    if info is None:
        return {}
    return {'mode': '%04o' % stat.S_IMODE(info.st_mode), 'owner': _user(info.st_uid), 'group': _group(info.st_gid)}


def _wanted(info, attributes):
    """The (mode, uid, gid) the file must have; ``None`` where nothing is asked."""
    mode = attributes['mode']
    if mode is None and (attributes['secret'] or info is None):
        mode = SECRET_MODE if attributes['secret'] else DEFAULT_MODE
    return mode, attributes['uid'], attributes['gid']


def attribute_changes(path, attributes=None, info=None):
    """``(before, after)`` of the attributes of the existing ``path`` that differ from what is asked."""
    attributes = _attributes(attributes)
    info = _lstat(path) if info is None else info
    if info is None:
        return {}, {}
    mode, uid, gid = _wanted(info, attributes)
    before, after = {}, {}
    current = describe(info)
    if mode is not None and stat.S_IMODE(info.st_mode) != mode:
        before['mode'], after['mode'] = current['mode'], '%04o' % mode
    if uid is not None and info.st_uid != uid:
        before['owner'], after['owner'] = current['owner'], _user(uid)
    if gid is not None and info.st_gid != gid:
        before['group'], after['group'] = current['group'], _group(gid)
    return before, after


def needs_write(path, content, attributes=None):
    """Whether ``write_file`` would change ``path`` (its bytes or its attributes)."""
    return read_bytes(path) != to_bytes(content) or bool(attribute_changes(path, attributes)[0])


# ---- checks before writing ---------------------------------------------------------------

def _check_destination(dest, info):
    """Refuse what must never be written: a link, a directory, another user's file in /tmp."""
    if info is None:
        return
    if stat.S_ISLNK(info.st_mode):
        raise FileError('%s is a symbolic link; refusing to write through or replace it (give the real path)' % dest)
    if stat.S_ISDIR(info.st_mode):
        raise FileError('dest %s is a directory, not a file' % dest)
    if not stat.S_ISREG(info.st_mode):
        raise FileError('%s is not a regular file; refusing to replace it' % dest)
    directory = os.path.dirname(os.path.abspath(dest))
    parent = _lstat(directory)
    if (parent is not None and parent.st_mode & stat.S_ISVTX and parent.st_mode & stat.S_IWOTH
            and (info.st_uid != os.geteuid() or info.st_nlink > 1)):
        raise FileError('%s is %s in the sticky, world-writable directory %s; refusing to replace '
                        'another user\'s file there (remove it or write elsewhere)'
                        % (dest, 'owned by %s' % _user(info.st_uid) if info.st_uid != os.geteuid()
                           else 'a hard link (%d names)' % info.st_nlink, directory))


def _makedirs(directory):
    """Create ``directory`` and its missing parents; returns the ones created (deepest last)."""
    missing = []
    path = directory
    while _lstat(path) is None:
        missing.append(path)
        path = os.path.dirname(path)
    created = []
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o755)
        except OSError as exc:
            # Another writer (a second fork rendering into the same output directory) made it
            # meanwhile: a directory is all that was wanted, and it is not ours to remove later.
            if exc.errno == errno.EEXIST and _is_real_directory(path):
                continue
            _remove_dirs(created)
            raise _error('create the directory', path, exc)
        created.append(path)
    if not os.path.isdir(directory):
        raise FileError('cannot write into %s: it is not a directory' % directory)
    return created


def _is_real_directory(path):
    """A directory, not a link to one (a link could send the write elsewhere)."""
    info = _lstat(path)
    return info is not None and stat.S_ISDIR(info.st_mode)


def _remove_dirs(created):
    for path in reversed(created):
        try:
            os.rmdir(path)
        except OSError:
            pass


def _unlink(path):
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _backup(dest, info, secret):
    """A copy of ``dest`` beside it (as Ansible names backups); returns its path.

    The copy is created exclusively, never through a link, with no access for others from the
    start; it then gets the old file's mode (less group and others' bits where it holds
    credentials: an old 0644 manifest must not leave a readable copy of its password).
    """
    backup = '%s.%s.%s' % (dest, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S~'))
    fd = None
    try:
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        with open(dest, 'rb') as source:
            with os.fdopen(os.dup(fd), 'wb') as target:
                shutil.copyfileobj(source, target)
        os.fsync(fd)
        if os.geteuid() == 0:
            os.fchown(fd, info.st_uid, info.st_gid)
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & (~0o077 if secret else 0o7777))
    except (IOError, OSError) as exc:
        if fd is not None:
            _unlink(backup)
        raise FileError('cannot back up %s to %s: %s' % (dest, backup, _reason(exc)))
    finally:
        if fd is not None:
            os.close(fd)
    return backup


# ---- writing -----------------------------------------------------------------------------

def write_file(module, dest, content, attributes=None, backup=False):
    """Make ``dest`` hold ``content`` with ``attributes`` (from ``file_attributes``).

    Returns ``{changed, diff, attribute_diff, backup_file}``: ``diff`` is the content's
    (``before`` equal to ``after`` when it did not change), ``attribute_diff`` the mode's, owner's
    and group's where they differ (else ``None``); ``diffs(written)`` gives what changed as a list.
    """
    attributes = _attributes(attributes)
    data = to_bytes(content)
    info = _lstat(dest)
    _check_destination(dest, info)
    old = read_bytes(dest) if info is not None else None
    result = {'changed': False, 'backup_file': None, 'attribute_diff': None,
              'diff': {'before_header': dest, 'after_header': dest,
                       'before': to_text(old) if old is not None else '', 'after': to_text(data)}}
    before, after = attribute_changes(dest, attributes, info)
    if before:
        result['attribute_diff'] = {'before_header': '%s (attributes)' % dest,
                                    'after_header': '%s (attributes)' % dest, 'before': before, 'after': after}
        result['changed'] = True
    if old != data:
        result['changed'] = True
        if not module.check_mode:
            result['backup_file'] = _replace(dest, data, info, attributes, backup and old is not None)
    elif before and not module.check_mode:
        _set_attributes(dest, info, attributes)
    return result


def diffs(written):
    """What changed in one ``write_file`` result, as a list of diffs (empty when nothing did)."""
    content_changed = written['diff']['before'] != written['diff']['after']
    return [diff for diff in (written['diff'] if content_changed else None, written['attribute_diff']) if diff]


def module_diff(written):
    """``diff`` for a module that writes one file: the content's, or a list when the attributes changed too."""
    return written['diff'] if written['attribute_diff'] is None else [written['diff'], written['attribute_diff']]


def _set_attributes(dest, info, attributes):
    """Put right the mode, owner and group of the existing, unchanged ``dest``."""
    mode, uid, gid = _wanted(info, attributes)
    flags = os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0)
    try:
        fd = os.open(dest, flags)
    except OSError as exc:
        raise _error('open', dest, exc)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            raise FileError('%s was replaced while this task ran; run it again' % dest)
        if (uid is not None and uid != info.st_uid) or (gid is not None and gid != info.st_gid):
            os.fchown(fd, info.st_uid if uid is None else uid, info.st_gid if gid is None else gid)
        if mode is not None and stat.S_IMODE(info.st_mode) != mode:
            os.fchmod(fd, mode)
    except OSError as exc:
        # Put back what was already changed, so a failure leaves the file as it was.
        try:
            os.fchown(fd, info.st_uid, info.st_gid)
            os.fchmod(fd, stat.S_IMODE(info.st_mode))
        except OSError:
            pass
        raise _error('set the owner, group and mode of', dest, exc)
    finally:
        os.close(fd)


def _replace(dest, data, info, attributes, backup):
    """Write ``data`` to a temporary file beside ``dest`` and rename it over ``dest``."""
    directory = os.path.dirname(os.path.abspath(dest))
    created = _makedirs(directory)
    tmp = backup_file = None
    try:
        if backup:
            backup_file = _backup(dest, info, attributes['secret'])
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(dest))
        except OSError as exc:
            raise _error('create a temporary file in', directory, exc)
        mode, uid, gid = _wanted(info, attributes)
        if mode is None:
            mode = stat.S_IMODE(info.st_mode)
        # Keep the owner of a file that is replaced unless one is asked for (as Ansible's copy does).
        if info is not None:
            uid = info.st_uid if uid is None else uid
            gid = info.st_gid if gid is None else gid
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
                if uid is not None or gid is not None:
                    current = os.fstat(handle.fileno())
                    wanted = (current.st_uid if uid is None else uid, current.st_gid if gid is None else gid)
                    if wanted != (current.st_uid, current.st_gid):
                        os.fchown(handle.fileno(), *wanted)
                os.fchmod(handle.fileno(), mode)
        except (IOError, OSError) as exc:
            raise _error('write', dest, exc)
        try:
            os.rename(tmp, dest)
        except OSError as exc:
            raise _error('replace', dest, exc)
        tmp = None
        _fsync_directory(directory)
    except BaseException:
        _unlink(tmp)
        _unlink(backup_file)
        _remove_dirs(created)
        raise
    return backup_file


def remove_file(module, path):
    """Remove a generated file that is no longer wanted; returns its diff."""
    info = _lstat(path)
    if info is None:
        return None
    _check_destination(path, info)
    old = read_bytes(path)
    if old is None:
        return None
    if not module.check_mode:
        try:
            os.unlink(path)
        except OSError as exc:
            raise _error('remove', path, exc)
        _fsync_directory(os.path.dirname(os.path.abspath(path)))
    return {'before_header': path, 'after_header': path, 'before': to_text(old), 'after': ''}
