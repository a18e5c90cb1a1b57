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


@pytest.mark.parametrize('value', ['/tmp/nvidia-mps', '/var/log/nvidia-mps', '/x/', '/'])
def test_absolute_paths_accepted(value):
    assert units.absolute_path(value, 'log_directory') == value


@pytest.mark.parametrize('value', ['tmp/nvidia-mps', './mps', '', '/tmp/../etc', '/tmp//mps', '/tmp/./mps', None, 5])
def test_relative_or_unnormalised_paths_refused(value):
    with pytest.raises(InvalidOption) as info:
        units.absolute_path(value, 'log_directory')
    assert 'log_directory' in str(info.value) and repr(value) in str(info.value)
