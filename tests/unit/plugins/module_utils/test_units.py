# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import units
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption

GIB = 1024 ** 3


@pytest.mark.parametrize('value, number', [(1, 1.0), (20, 20.0), ('20', 20.0), ('33.5', 33.5), (100, 100.0), (12.5, 12.5)])
def test_percentage_accepted(value, number):
    assert units.parse_percentage(value, 'gpu_percentage') == number


@pytest.mark.parametrize('value', [0, 101, '20%', '0', '-5', 'abc', True, None, [20], 0.5])
def test_percentage_refused_naming_the_value(value):
    with pytest.raises(ValueError) as info:
        units.parse_percentage(value, 'gpu_percentage')
    assert repr(value) in str(info.value)
    assert 'from 1 to 100' in str(info.value)
    assert 'gpu_percentage' in str(info.value)


@pytest.mark.parametrize('value, size', [('2G', 2 * GIB), ('512M', 512 * 1024 ** 2), ('64k', 64 * 1024), (' 1G ', GIB)])
def test_memory_accepted(value, size):
    assert units.parse_memory(value, 'gpu_memory') == size


@pytest.mark.parametrize('value', ['2X', '2', '0G', 'G', '2 G', '1.5G', 2, None, '2GB'])
def test_memory_refused_naming_the_value(value):
    with pytest.raises(ValueError) as info:
        units.parse_memory(value, 'gpu_memory')
    assert repr(value) in str(info.value)


@pytest.mark.parametrize('size, text', [(2 * GIB, '2G'), (1500 * 1024 ** 2, '1G'), (512 * 1024 ** 2, '512M'),
                                        (1536 * 1024, '1M'), (4096, '4K'), (100, '100')])
def test_memory_text_rounds_down_like_the_daemon(size, text):
    assert units.memory_text(size) == text


@pytest.mark.parametrize('value', [float('nan'), float('inf'), '100.5'])
def test_percentage_refuses_non_finite_and_too_high(value):
    with pytest.raises(InvalidOption):
        units.parse_percentage(value, 'gpu_percentage')


@pytest.mark.parametrize('value, number', [(12.5, '12.5'), (20.0, '20'), (100, '100'), (33.3, '33.3')])
def test_number_text(value, number):
    assert units.number_text(value) == number


@pytest.mark.parametrize('value, result', [(True, True), (False, False), ('false', False), ('False', False),
                                           ('no', False), ('0', False), (0, False), ('true', True), ('yes', True),
                                           ('on', True), (1, True), (' TRUE ', True)])
def test_booleans_from_strings(value, result):
    assert units.parse_bool(value, 'oversubscribe') is result


@pytest.mark.parametrize('value', ['maybe', '', None, 2, [], 'falsey'])
def test_bad_boolean_named_with_its_option(value):
    with pytest.raises(InvalidOption) as info:
        units.parse_bool(value, 'oversubscribe')
    assert 'oversubscribe' in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize('value', ['/tmp/nvidia-mps', '/var/log/nvidia-mps', '/', '/a b/c'])
def test_absolute_paths_accepted(value):
    assert units.absolute_path(value, 'log_directory') == value


@pytest.mark.parametrize('value', ['tmp/nvidia-mps', './mps', '', '/tmp/../etc', '/tmp//mps', '/tmp/./mps', None, 5,
                                   '/x/', '//x', '///x', '/x\ny', '/x\ty', '/x\x00y', '/x\x7f'])
def test_relative_or_unnormalised_paths_refused(value):
    with pytest.raises(InvalidOption) as info:
        units.absolute_path(value, 'log_directory')
    assert 'log_directory' in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize('value, suggestion', [('/x/', '/x'), ('//x', '/x'), ('/a/../b', '/b')])
def test_unnormalised_path_message_gives_the_normal_form(value, suggestion):
    with pytest.raises(InvalidOption) as info:
        units.absolute_path(value, 'dest')
    assert str(info.value).endswith('use %r' % suggestion)


@pytest.mark.parametrize('value, seconds', [(1, 1), ('20', 20), (3600, 3600)])
def test_timeouts_accepted(value, seconds):
    assert units.parse_timeout(value, 'timeout') == seconds


@pytest.mark.parametrize('value', [0, -1, 3601, 10 ** 30, '20s', '', None, True, 1.5, float('inf')])
def test_bad_timeouts_named_with_their_option(value):
    with pytest.raises(InvalidOption) as info:
        units.parse_timeout(value, 'mps_timeout')
    assert 'mps_timeout' in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize('value, number', [(0, 0), ('7', 7), (7200, 7200)])
def test_whole_numbers_accepted(value, number):
    assert units.whole_number(value, 'store_and_forward_ttl') == number


@pytest.mark.parametrize('value', [-1, '-1', 1.0, True, 'x', None, [1]])
def test_bad_whole_numbers_named_with_their_option(value):
    with pytest.raises(InvalidOption) as info:
        units.whole_number(value, 'store_and_forward_ttl')
    assert 'store_and_forward_ttl' in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize('value', ['mcr.microsoft.com/azureiotedge-agent:1.5', 'registry:5000/a/b@sha256:00ff', 'busybox'])
def test_image_references_accepted(value):
    assert units.image_reference(value, 'image') == value


@pytest.mark.parametrize('value', ['a b', 'a:1 latest', '"a"', 'a\nb', '', '-a', None, 5])
def test_bad_image_references_named_with_their_option(value):
    with pytest.raises(InvalidOption) as info:
        units.image_reference(value, 'edge_hub_image')
    assert 'edge_hub_image' in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize('value, words', [
    (0, 'timeout must be a whole number of seconds from 1 to 3600, got 0'),
    ('3601', 'timeout must be a whole number of seconds from 1 to 3600, got 3601'),
    (True, 'timeout must be a whole number of seconds from 1 to 3600, got True'),
])
def test_timeouts_are_whole_numbers_with_bounds(value, words):
    with pytest.raises(InvalidOption) as info:
        units.parse_timeout(value, 'timeout')
    assert str(info.value) == words


def test_a_whole_number_with_a_maximum_says_both_bounds():
    assert units.whole_number('7', 'ttl', 0, 10) == 7
    with pytest.raises(InvalidOption) as info:
        units.whole_number(11, 'ttl', 0, 10)
    assert str(info.value) == 'ttl must be a whole number from 0 to 10, got 11'


@pytest.mark.parametrize('value, number', [(0.1, 0.1), ('0.1', 0.1), (5, 5.0), ('3600', 3600.0), (2.5, 2.5)])
def test_seconds_accepted_as_floats(value, number):
    result = units.seconds(value, 'sample_seconds', 0.1, 3600)
    assert result == number and isinstance(result, float)


@pytest.mark.parametrize('value', [0, '0', 0.0, -0.0])
def test_zero_seconds_only_where_allowed(value):
    assert units.seconds(value, 'sample_seconds', 0.1, 3600, zero=True) == 0.0
    with pytest.raises(InvalidOption) as info:
        units.seconds(value, 'sample_seconds', 0.1, 3600)
    assert 'sample_seconds must be a number of seconds from 0.1 to 3600, got %r' % (value,) == str(info.value)


@pytest.mark.parametrize('value', [0.05, 3600.5, -1, '-1', '1e3', '5s', '', None, True, False, [1],
                                   float('nan'), float('inf'), 'nan'])
def test_bad_seconds_named_with_their_option_and_value(value):
    with pytest.raises(InvalidOption) as info:
        units.seconds(value, 'sample_seconds', 0.1, 3600, zero=True)
    assert str(info.value) == 'sample_seconds must be 0 or a number of seconds from 0.1 to 3600, got %r' % (value,)
