# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption

UUIDS = ['GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6', 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7']


@pytest.mark.parametrize('values, indexes', [
    ('all', [0, 1]),
    (['all'], [0, 1]),
    (1, [1]),
    ([1], [1]),
    (['1'], [1]),
    ([UUIDS[1]], [1]),
    ([UUIDS[1].lower().replace('gpu-', 'GPU-')], [1]),
    ([1, 0, UUIDS[0]], [0, 1]),
])
def test_gpu_selection(values, indexes):
    assert gpus.resolve(gpus.parse_selection(values), UUIDS) == indexes


@pytest.mark.parametrize('value', ['GPU-1234', 'gpu0', 'MIG-1c2d3e4f', '', 1.5, True, {'index': 0}, '-1'])
def test_malformed_selector_is_named(value):
    with pytest.raises(ValueError) as info:
        gpus.parse_selection([0, value])
    assert repr(value) in str(info.value)


@pytest.mark.parametrize('selector, named', [
    (2, '2'),
    ('GPU-ffffffff-ffff-ffff-ffff-ffffffffffff', 'GPU-ffffffff-ffff-ffff-ffff-ffffffffffff'),
])
def test_selector_matching_no_gpu_is_named_with_what_exists(selector, named):
    with pytest.raises(ValueError) as info:
        gpus.resolve(gpus.parse_selection([selector]), UUIDS)
    assert 'no GPU matches %s' % named in str(info.value)
    assert '0 (%s)' % UUIDS[0] in str(info.value)


def test_selector_on_a_host_without_gpus():
    with pytest.raises(ValueError) as info:
        gpus.resolve([0], [])
    assert 'this host has no GPUs' in str(info.value)


@pytest.mark.parametrize('value', [[], None, ''])
def test_an_empty_selection_is_refused_not_guessed(value):
    with pytest.raises(InvalidOption) as info:
        gpus.parse_selection(value, 'mps_gpus')
    assert 'mps_gpus is empty' in str(info.value) and 'all' in str(info.value)


def test_a_list_where_empty_means_none():
    assert gpus.parse_selectors([], 'reserved_gpus') == []
    assert gpus.parse_selectors(None, 'reserved_gpus') == []
    # One value given alone (as -e gives it) is one selector, not a string to iterate.
    assert gpus.parse_selectors('1', 'reserved_gpus') == [1]


def test_labels_and_mig():
    gpu = {'index': 1, 'uuid': UUIDS[1], 'mig_mode': {'current': 'enabled', 'pending': 'enabled'}}
    assert gpus.label(gpu) == 'GPU 1 (%s)' % UUIDS[1]
    assert gpus.mig_enabled(gpu)
    assert not gpus.mig_enabled({'mig_mode': {'current': 'disabled', 'pending': 'enabled'}})
    assert not gpus.mig_enabled({'mig_mode': None})


@pytest.mark.parametrize('capabilities, limit', [(['7.5', '8.0'], 48), (['7.0', '8.0'], 16), ([None], 48), ([], 48)])
def test_mps_client_limit_follows_the_oldest_gpu(capabilities, limit):
    assert gpus.mps_client_limit([{'compute_capability': c} for c in capabilities]) == limit


def test_pipe_directory_rules():
    assert gpus.check_pipe_directory('/tmp/nvidia-mps') == '/tmp/nvidia-mps'
    for bad, words in (('/' + 'p' * 100, 'too long'), ('nvidia-mps', 'absolute'), ('/tmp/../mps', 'normalised')):
        with pytest.raises(InvalidOption) as info:
            gpus.check_pipe_directory(bad)
        assert words in str(info.value)


@pytest.mark.parametrize('text, version', [
    ('535.261.03', (535, 261, 3)), ('495.29.05', (495, 29, 5)), ('580.65', (580, 65)),
    (None, None), ('', None), ('r535', None), ('535..3', None), (535, None),
])
def test_driver_version(text, version):
    assert gpus.driver_version(text) == version


@pytest.mark.parametrize('driver', ['495.29.05', '495.29.6', '510.39.01', '535.261.03', None, 'unknown'])
def test_pinned_memory_driver_accepted(driver):
    gpus.check_pinned_mem_driver(driver, 'gpu_memory', '2G')


@pytest.mark.parametrize('driver', ['495.29.04', '470.256.02', '450.51.06', '495.29'])
def test_pinned_memory_driver_refused(driver):
    with pytest.raises(InvalidOption) as info:
        gpus.check_pinned_mem_driver(driver, 'gpu_memory', '2G')
    assert str(info.value) == ('gpu_memory 2G needs driver >= 495.29.05 (MPS pinned device memory limits came with '
                               'CUDA 11.5), GPU host has %s' % driver)


@pytest.mark.parametrize('path', ['/run/nvidia-mps', '/var/log/nvidia-mps', '/tmp/mps@1/a+b_c-d.e'])
def test_mps_directories_accepted(path):
    assert gpus.check_mps_directory(path, 'log_directory') == path


@pytest.mark.parametrize('path', ['/tmp/a b', '/tmp/a:b', "/tmp/a'b", '/tmp/a"b', '/tmp/a;b', '/tmp/$HOME', '/tmp/a\\b',
                                  'relative', '/tmp/x/', '/tmp/a\nb'])
def test_mps_directories_that_need_quoting_are_refused(path):
    with pytest.raises(InvalidOption) as info:
        gpus.check_mps_directory(path, 'log_directory')
    assert 'log_directory' in str(info.value) and repr(path) in str(info.value)
    with pytest.raises(InvalidOption) as info:
        gpus.check_pipe_directory(path, 'mps_pipe_directory')
    assert 'mps_pipe_directory' in str(info.value) and repr(path) in str(info.value)
