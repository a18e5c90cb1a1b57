# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.module_utils import report


class FilterModule(object):
    """Summaries of edge_gpu.sharing.gpu_info results."""

    def filters(self):
        return {
            'gpu_summary': report.device_lines,
            'gpu_fleet_summary': report.fleet_summary,
        }
