# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""files.write_file: attributes on every run, check mode, diff, and every OSError path."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import shutil
import stat
import tempfile
import time

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import files
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import FileError, InvalidOption

NOBODY_UID = 65534
NOBODY_GID = 65534
AS_ROOT = os.geteuid() == 0


class FakeModule(object):
    def __init__(self, check_mode=False):
        self.check_mode = check_mode


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def listing(directory):
    return sorted(os.listdir(directory))


def put(path, data=b'old\n', mode=0o644):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / 'out' / 'file.json')


# ---- options -----------------------------------------------------------------------------

@pytest.mark.parametrize('value, mode', [('0600', 0o600), ('600', 0o600), ('0o640', 0o640), (0o644, 0o644), (' 0755 ', 0o755)])
def test_mode_accepted(value, mode):
    assert files.parse_mode(value) == mode


@pytest.mark.parametrize('value', ['u=rw', '0999', '', 'rw-r--r--', True, '10000', -1, 0o10000])
def test_mode_refused_naming_option_and_value(value):
    with pytest.raises(InvalidOption) as info:
        files.parse_mode(value, 'iotedge_mode')
    assert 'iotedge_mode' in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize('mode', ['0644', '0604', '0660', '0777', '0620'])
def test_a_credentials_file_refuses_a_wider_mode(mode):
    with pytest.raises(InvalidOption) as info:
        files.file_attributes({'mode': mode, 'dest': '/srv/m.json'}, secret=True)
    assert '/srv/m.json' in str(info.value)
    assert 'credentials' in str(info.value)
    assert 'mode' in str(info.value)


@pytest.mark.parametrize('mode', ['0600', '0640', '0400'])
def test_a_credentials_file_takes_a_narrow_mode(mode):
    assert files.file_attributes({'mode': mode}, secret=True)['mode'] == int(mode, 8)


def test_an_ordinary_file_takes_any_mode():
    assert files.file_attributes({'mode': '0644'})['mode'] == 0o644


@pytest.mark.parametrize('option', ['owner', 'group'])
def test_unknown_owner_or_group_is_refused(option):
    with pytest.raises(InvalidOption) as info:
        files.file_attributes({option: 'no-such-name-xyz'})
    assert option in str(info.value)
    assert 'no-such-name-xyz' in str(info.value)


def test_owner_and_group_by_name_or_number():
    attributes = files.file_attributes({'owner': 'nobody', 'group': '0'})
    assert attributes['uid'] == NOBODY_UID
    assert attributes['gid'] == 0


def test_prefixed_options_are_named_with_their_prefix():
    with pytest.raises(InvalidOption) as info:
        files.file_attributes({'iotedge_mode': '0666', 'iotedge_dest': '/x'}, secret=True, prefix='iotedge_',
                              dest_option='iotedge_dest')
    assert 'iotedge_mode' in str(info.value)


# ---- content and attributes --------------------------------------------------------------

def test_new_file_gets_the_default_mode_and_the_content(dest):
    written = files.write_file(FakeModule(), dest, u'new\n')
    assert written['changed'] is True
    assert read(dest) == b'new\n'
    assert mode_of(dest) == 0o644
    assert written['diff']['after'] == u'new\n'


def test_new_credentials_file_is_0600(dest):
    files.write_file(FakeModule(), dest, u'{}', files.file_attributes({}, secret=True))
    assert mode_of(dest) == 0o600


def test_equal_content_equal_mode_is_not_changed(dest):
    attributes = files.file_attributes({}, secret=True)
    files.write_file(FakeModule(), dest, u'x', attributes)
    again = files.write_file(FakeModule(), dest, u'x', attributes)
    assert again['changed'] is False
    assert files.diffs(again) == []


def test_credentials_file_made_0644_goes_back_to_0600_with_an_attribute_diff(dest):
    attributes = files.file_attributes({}, secret=True)
    files.write_file(FakeModule(), dest, u'secret', attributes)
    os.chmod(dest, 0o644)
    written = files.write_file(FakeModule(), dest, u'secret', attributes)
    assert written['changed'] is True
    assert mode_of(dest) == 0o600
    assert written['attribute_diff']['before'] == {'mode': '0644'}
    assert written['attribute_diff']['after'] == {'mode': '0600'}
    assert files.diffs(written) == [written['attribute_diff']]
    assert files.write_file(FakeModule(), dest, u'secret', attributes)['changed'] is False


def test_mode_drift_in_check_mode_is_reported_not_done(dest):
    attributes = files.file_attributes({'mode': '0640'})
    files.write_file(FakeModule(), dest, u'x', attributes)
    os.chmod(dest, 0o666)
    written = files.write_file(FakeModule(check_mode=True), dest, u'x', attributes)
    assert written['changed'] is True
    assert written['attribute_diff']['after'] == {'mode': '0640'}
    assert mode_of(dest) == 0o666


def test_content_change_in_check_mode_writes_nothing(dest):
    os.makedirs(os.path.dirname(dest))
    put(dest)
    written = files.write_file(FakeModule(check_mode=True), dest, u'new', files.file_attributes({}, secret=True))
    assert written['changed'] is True
    assert read(dest) == b'old\n'
    assert mode_of(dest) == 0o644
    assert listing(os.path.dirname(dest)) == ['file.json']


def test_check_mode_does_not_create_the_directory(dest):
    files.write_file(FakeModule(check_mode=True), dest, u'new')
    assert not os.path.exists(os.path.dirname(dest))


def test_an_ordinary_file_keeps_its_mode_when_none_is_given(dest):
    files.write_file(FakeModule(), dest, u'a')
    os.chmod(dest, 0o640)
    assert files.write_file(FakeModule(), dest, u'a')['changed'] is False
    files.write_file(FakeModule(), dest, u'b')
    assert mode_of(dest) == 0o640


def test_a_given_mode_is_applied_to_a_replaced_file(dest):
    files.write_file(FakeModule(), dest, u'a')
    files.write_file(FakeModule(), dest, u'b', files.file_attributes({'mode': '0600'}))
    assert mode_of(dest) == 0o600


@pytest.mark.skipif(not AS_ROOT, reason='changing a file owner needs root')
def test_owner_and_group_are_enforced_on_every_run(dest):
    attributes = files.file_attributes({'owner': 'nobody', 'group': str(NOBODY_GID)})
    files.write_file(FakeModule(), dest, u'a', attributes)
    info = os.lstat(dest)
    assert (info.st_uid, info.st_gid) == (NOBODY_UID, NOBODY_GID)
    os.chown(dest, 0, 0)
    written = files.write_file(FakeModule(), dest, u'a', attributes)
    assert written['changed'] is True
    assert written['attribute_diff']['before'] == {'owner': 'root', 'group': 'root'}
    assert written['attribute_diff']['after']['owner'] == 'nobody'
    info = os.lstat(dest)
    assert (info.st_uid, info.st_gid) == (NOBODY_UID, NOBODY_GID)


@pytest.mark.skipif(not AS_ROOT, reason='changing a file owner needs root')
def test_a_replaced_file_keeps_its_owner_when_none_is_given(dest):
    files.write_file(FakeModule(), dest, u'a')
    os.chown(dest, NOBODY_UID, NOBODY_GID)
    files.write_file(FakeModule(), dest, u'b')
    assert os.lstat(dest).st_uid == NOBODY_UID


def test_backup_keeps_the_old_content(dest):
    files.write_file(FakeModule(), dest, u'a')
    written = files.write_file(FakeModule(), dest, u'b', backup=True)
    assert read(written['backup_file']) == b'a'
    assert read(dest) == b'b'


# ---- what is never written ---------------------------------------------------------------

def test_a_symlink_at_dest_is_never_followed(tmp_path):
    target = tmp_path / 'target'
    target.write_bytes(b'precious')
    link = tmp_path / 'link.json'
    link.symlink_to(target)
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), str(link), u'x')
    assert str(link) in str(info.value)
    assert 'symbolic link' in str(info.value)
    assert target.read_bytes() == b'precious'
    assert os.path.islink(str(link))


def test_a_directory_at_dest_is_refused(tmp_path):
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), str(tmp_path), u'x')
    assert 'directory' in str(info.value)


@pytest.mark.skipif(not AS_ROOT, reason='needs a file owned by another user')
def test_another_users_file_in_a_sticky_world_writable_directory_is_not_replaced(tmp_path):
    sticky = tmp_path / 'sticky'
    sticky.mkdir()
    os.chmod(str(sticky), 0o1777)
    path = str(sticky / 'm.json')
    put(path, b'theirs')
    os.chown(path, NOBODY_UID, NOBODY_GID)
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), path, u'ours')
    assert path in str(info.value) and 'nobody' in str(info.value) and 'sticky' in str(info.value)
    assert read(path) == b'theirs'
    assert listing(str(sticky)) == ['m.json']


def test_a_hard_link_in_a_sticky_world_writable_directory_is_not_replaced(tmp_path):
    sticky = tmp_path / 'sticky'
    sticky.mkdir()
    os.chmod(str(sticky), 0o1777)
    path = str(sticky / 'm.json')
    put(path, b'x')
    os.link(path, str(sticky / 'other'))
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), path, u'x', files.file_attributes({}, secret=True))
    assert 'hard link' in str(info.value)
    assert mode_of(path) == 0o644


# ---- every OSError -----------------------------------------------------------------------

def oserror(code):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def assert_untouched(dest, old=b'old\n', names=('file.json',)):
    assert read(dest) == old
    assert mode_of(dest) == 0o644
    assert listing(os.path.dirname(dest)) == sorted(names)


@pytest.fixture
def existing(dest):
    os.makedirs(os.path.dirname(dest))
    put(dest)
    return dest


@pytest.mark.parametrize('target, code, reason', [
    ('mkstemp', errno.EACCES, 'permission denied'),
    ('mkstemp', errno.EROFS, 'read-only file system'),
    ('fsync', errno.ENOSPC, 'no space left on device'),
    ('fchmod', errno.EPERM, 'operation not permitted'),
    ('rename', errno.EACCES, 'permission denied'),
    ('copyfileobj', errno.ENOSPC, 'no space left on device'),
])
def test_a_refused_write_names_the_file_and_reason_and_leaves_everything(monkeypatch, existing, target, code, reason):
    where = {'mkstemp': (tempfile, 'mkstemp'), 'fsync': (os, 'fsync'), 'fchmod': (os, 'fchmod'),
             'rename': (os, 'rename'), 'copyfileobj': (shutil, 'copyfileobj')}[target]
    monkeypatch.setattr(where[0], where[1], oserror(code))
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), existing, u'new', files.file_attributes({'mode': '0600'}), backup=True)
    message = str(info.value)
    assert reason in message
    assert os.path.dirname(existing) in message
    monkeypatch.undo()
    assert_untouched(existing)


def test_a_directory_that_cannot_be_made_is_named_and_nothing_is_left(monkeypatch, tmp_path):
    dest = str(tmp_path / 'a' / 'b' / 'f.json')
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777):
        if path.endswith('/b'):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        real_mkdir(path, mode)
    monkeypatch.setattr(os, 'mkdir', mkdir)
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), dest, u'x')
    assert str(tmp_path / 'a' / 'b') in str(info.value)
    assert 'permission denied' in str(info.value)
    assert listing(str(tmp_path)) == []


def test_a_directory_another_writer_makes_meanwhile_is_used(monkeypatch, tmp_path):
    """Forks rendering into one output directory race to create it: the loser writes its file."""
    dest = str(tmp_path / 'rendered' / 'edge-03' / 'f.json')
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777):
        if path.endswith('/rendered'):
            real_mkdir(path, mode)  # the other fork wins the race
            raise OSError(errno.EEXIST, os.strerror(errno.EEXIST))
        real_mkdir(path, mode)
    monkeypatch.setattr(os, 'mkdir', mkdir)
    files.write_file(FakeModule(), dest, u'x')
    with open(dest) as handle:
        assert handle.read() == 'x'


def test_a_link_another_writer_puts_there_meanwhile_is_refused(monkeypatch, tmp_path):
    dest = str(tmp_path / 'rendered' / 'f.json')
    elsewhere = str(tmp_path / 'elsewhere')
    os.mkdir(elsewhere)

    def mkdir(path, mode=0o777):
        os.symlink(elsewhere, path)
        raise OSError(errno.EEXIST, os.strerror(errno.EEXIST))
    monkeypatch.setattr(os, 'mkdir', mkdir)
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), dest, u'x')
    assert str(tmp_path / 'rendered') in str(info.value)
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize('target', ['fchmod', 'fchown'])
def test_a_refused_attribute_change_names_the_file_and_leaves_it(monkeypatch, existing, target):
    attributes = files.file_attributes({'mode': '0600', 'owner': 'nobody'})
    monkeypatch.setattr(os, target, oserror(errno.EPERM))
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), existing, u'old\n', attributes)
    assert existing in str(info.value)
    assert 'operation not permitted' in str(info.value)
    monkeypatch.undo()
    assert_untouched(existing)
    assert os.lstat(existing).st_uid == os.geteuid()


def test_an_unreadable_dest_is_an_error_not_a_missing_file(monkeypatch, existing):
    real_open = os.open

    def refuse(path, flags, *args):
        if path == existing:
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, flags, *args)
    monkeypatch.setattr(os, 'open', refuse)
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), existing, u'new')
    assert existing in str(info.value) and 'permission denied' in str(info.value)
    monkeypatch.undo()
    assert_untouched(existing)


def test_remove_refused_names_the_file(monkeypatch, existing):
    monkeypatch.setattr(os, 'unlink', oserror(errno.EACCES))
    with pytest.raises(FileError) as info:
        files.remove_file(FakeModule(), existing)
    assert existing in str(info.value) and 'permission denied' in str(info.value)
    monkeypatch.undo()
    assert_untouched(existing)


def test_remove_in_check_mode_keeps_the_file(existing):
    diff = files.remove_file(FakeModule(check_mode=True), existing)
    assert diff['before'] == u'old\n' and diff['after'] == ''
    assert_untouched(existing)


def test_needs_write_sees_content_and_attributes(dest):
    attributes = files.file_attributes({}, secret=True)
    assert files.needs_write(dest, u'x', attributes) is True
    files.write_file(FakeModule(), dest, u'x', attributes)
    assert files.needs_write(dest, u'x', attributes) is False
    os.chmod(dest, 0o644)
    assert files.needs_write(dest, u'x', attributes) is True


def test_the_backup_of_a_credentials_file_is_never_readable_by_others(existing):
    # Someone made the manifest 0644: its backup must not keep the old password readable by all.
    written = files.write_file(FakeModule(), existing, u'new', files.file_attributes({}, secret=True), backup=True)
    assert written['changed'] and mode_of(existing) == 0o600
    assert read(written['backup_file']) == b'old\n' and mode_of(written['backup_file']) == 0o600


def test_the_backup_of_a_plain_file_keeps_its_mode(existing):
    written = files.write_file(FakeModule(), existing, u'new', files.file_attributes({}), backup=True)
    assert mode_of(written['backup_file']) == 0o644


def test_a_link_planted_at_the_backup_name_is_not_followed(existing, monkeypatch, tmp_path):
    victim = str(tmp_path / 'victim')
    put(victim, b'victim\n')
    monkeypatch.setattr(time, 'strftime', lambda _fmt: 'fixed~')
    os.symlink(victim, '%s.%s.fixed~' % (existing, os.getpid()))
    with pytest.raises(FileError) as info:
        files.write_file(FakeModule(), existing, u'new', files.file_attributes({}), backup=True)
    assert 'cannot back up' in str(info.value) and read(victim) == b'victim\n' and read(existing) == b'old\n'


@pytest.mark.parametrize('option, value', [
    ('owner', '99999999999'), ('owner', '4294967295'), ('owner', 'a\x00b'), ('group', '4294967295'), ('group', 'a\x00b'),
])
def test_owner_and_group_out_of_range_or_impossible_are_refused(option, value):
    with pytest.raises(InvalidOption) as info:
        files.file_attributes({option: value})
    assert str(info.value).startswith('%s: there is no ' % option) and repr(value) in str(info.value)


def test_an_unexpected_error_part_way_leaves_no_temporary_file(monkeypatch, existing):
    def boom(*_args):
        raise OverflowError('signed integer is greater than maximum')
    monkeypatch.setattr(os, 'fchown', boom)
    with pytest.raises(OverflowError):
        files.write_file(FakeModule(), existing, u'new', {'mode': 0o644, 'uid': 5, 'gid': None, 'secret': False})
    monkeypatch.undo()
    assert_untouched(existing)


def test_diff_shows_the_mode_also_when_the_content_changes(existing):
    written = files.write_file(FakeModule(check_mode=True), existing, u'new', files.file_attributes({}, secret=True))
    assert written['attribute_diff']['before'] == {'mode': '0644'} and written['attribute_diff']['after'] == {'mode': '0600'}
    assert [diff['before'] for diff in files.diffs(written)] == ['old\n', {'mode': '0644'}]
