# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The one meaning of GPU selection, shared by gpu_info, gpu_mode and mps."""

    DOCUMENTATION = r'''
options:
  gpus:
    description:
      - Which GPUs of the device the task is about.
      - V(all) (the default) is every GPU of the device.
      - Otherwise a list of GPU indexes (V(0), V(1)) and/or GPU UUIDs (V(GPU-8c2f...)); a single
        index or UUID is a list of one. Indexes given as strings (V('1'), as C(-e) gives them)
        are accepted.
      - An empty list is refused rather than taken to mean every GPU or none.
      - A selector that matches no GPU, or a value that is neither an index nor a well-formed
        UUID, fails the task with a message naming it, before anything changes.
    type: raw
    default: all
'''
