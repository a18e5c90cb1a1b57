# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reference material from ``../shared``, the read-only folder beside our own checkouts.

A clone of the repository on its own has no ``../shared``. Tests that cross-check against it
call these helpers, which skip the test there with a reason naming the missing path; the
collection's own checks (``iotedge_agent.check_manifest``) never depend on it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared'))
IOTEDGE_SCHEMA = os.path.join(SHARED, 'schemas', 'azure-iot-edge-deployment-2.0.json')


def shared_file(path):
    """``path`` (under ``../shared``) if it is there; otherwise skip the calling test."""
    if not os.path.isfile(path):
        pytest.skip('reference cross-check skipped: %s is not there (../shared lies beside our own checkouts, '
                    'not beside a lone clone)' % path)
    return path


def iotedge_schema():
    """SchemaStore's IoT Edge deployment manifest schema (draft-04), or skip."""
    with open(shared_file(IOTEDGE_SCHEMA)) as handle:
        return json.load(handle)
