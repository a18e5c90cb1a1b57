# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Manifests are built as data and only dumped here, never assembled as text."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import traceback

try:
    import yaml
except ImportError:
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None


def dump_yaml(data):
    """One YAML document; keys keep the order they were built in."""
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)


def dump_yaml_documents(documents):
    """Several objects as one multi-document YAML file."""
    return yaml.safe_dump_all(documents, default_flow_style=False, sort_keys=False, allow_unicode=True,
                              explicit_start=True)


def dump_json(data):
    """Stable, readable JSON (for the IoT Edge manifest)."""
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + '\n'
