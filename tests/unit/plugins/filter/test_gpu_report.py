# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.filter.gpu_report import FilterModule


def test_filters_are_registered_under_their_documented_names():
    filters = FilterModule().filters()
    assert sorted(filters) == ['gpu_fleet_summary', 'gpu_summary']
    assert filters['gpu_summary']({'available': False, 'unavailable_reason': 'x'}) == ['no usable NVML: x']
    assert filters['gpu_fleet_summary']({})['devices'] == 0
