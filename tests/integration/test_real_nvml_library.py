# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gpu_info with the real nvidia-ml-py and NVIDIA's real libnvidia-ml.so.1, on a machine without a GPU."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

import fleet  # pylint: disable=import-error

from harness import NVML_LIBRARY as LIBRARY, require_nvidia_userland  # pylint: disable=import-error

require_nvidia_userland(module_level=True)


@pytest.fixture
def real_hosts(tmp_path, custom_inventory):
    """Two hosts running the real pynvml: one with NVIDIA's NVML library, one without any."""
    hosts = {}
    for host, env in (('with-library', {'LD_LIBRARY_PATH': os.path.dirname(LIBRARY)}),
                      ('without-library', {'LD_LIBRARY_PATH': str(tmp_path / 'empty')})):
        directory = tmp_path / host
        directory.mkdir()
        fleet.write_interpreter(str(directory / 'python'), env)
        hosts[host] = str(directory / 'python')
    return custom_inventory(hosts)


def test_driver_not_loaded_becomes_the_clear_message(real_hosts, playbook):
    run = playbook('gpu_info_fleet.yml', inventory=real_hosts, extra_vars={'expect_failure': True})
    assert run.rc == 0, run.output
    result = run.result('with-library')
    assert result['failed'] is True
    assert result['error_kind'] == 'driver_not_loaded'
    assert result['msg'].startswith('NVML failed while initialising: the NVIDIA kernel driver is not loaded')
    result = run.result('without-library')
    assert result['error_kind'] == 'library_not_found'
    assert 'libnvidia-ml.so.1) was not found' in result['msg']


def test_missing_empty_inventories_a_host_without_a_loaded_driver(real_hosts, playbook):
    run = playbook('gpu_info_fleet.yml', inventory=real_hosts, extra_vars={'missing': 'empty'})
    assert run.rc == 0, run.output
    for host in ('with-library', 'without-library'):
        info = run.result(host)['gpu_info']
        assert info['available'] is False
        assert info['gpus'] == []
