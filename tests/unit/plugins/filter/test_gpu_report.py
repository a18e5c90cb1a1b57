# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edge_gpu.sharing.plugins.filter.absolute_path import FilterModule as PathFilters
from ansible_collections.edge_gpu.sharing.plugins.filter.gpu_report import FilterModule


def test_filters_are_registered_under_their_documented_names():
    filters = FilterModule().filters()
    assert sorted(filters) == ['gpu_fleet_summary', 'gpu_summary']
    assert filters['gpu_summary']({'available': False, 'unavailable_reason': 'x'}) == ['no usable NVML: x']
    assert filters['gpu_fleet_summary']({})['devices'] == 0


@pytest.mark.parametrize('name, value', [('gpu_summary', 'GPU 0'), ('gpu_fleet_summary', ['edge-01'])])
def test_input_that_is_no_gpu_info_result_is_a_filter_error_naming_it(name, value):
    with pytest.raises(AnsibleFilterError) as info:
        FilterModule().filters()[name](value)
    assert str(info.value).startswith(name) and repr(value) in str(info.value)


def test_absolute_path_filter():
    check = PathFilters().filters()['absolute_path']
    assert check('/srv/review', 'gpu_sharing_output_dir') == '/srv/review'
    with pytest.raises(AnsibleFilterError) as info:
        check('review', 'gpu_sharing_output_dir')
    assert "gpu_sharing_output_dir 'review' must be an absolute path" in str(info.value)
