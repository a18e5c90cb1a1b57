# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Manifests are built as data and only dumped here, never assembled as text."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import traceback

try:
    import yaml
except ImportError:
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
    _Dumper = None
else:
    YAML_IMPORT_ERROR = None

    class _Dumper(yaml.SafeDumper):
        """SafeDumper that writes multi-line strings (embedded configs) as literal blocks."""

    def _str(dumper, value):
        # A literal block cannot carry trailing spaces on a line; those keep the quoted style.
        style = '|' if '\n' in value and not any(line != line.rstrip() for line in value.split('\n')) else None
        return dumper.represent_scalar('tag:yaml.org,2002:str', value, style=style)

    _Dumper.add_representer(str, _str)


def dump_yaml(data):
    """One YAML document; keys keep the order they were built in."""
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)


def dump_yaml_documents(documents):
    """Several objects as one multi-document YAML file."""
    return yaml.dump_all(documents, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True,
                         explicit_start=True)


def short_hash(data, length=8):
    """The first ``length`` hex digits of the SHA-256 of ``data``'s canonical JSON: a stable
    version tag for objects whose content cannot be updated in place (IoT Hub configurations,
    DRA claims), so a changed content gets a new name."""
    text = json.dumps(data, sort_keys=True, separators=(',', ':'), ensure_ascii=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:length]


def dump_json(data):
    """Stable, readable JSON (for the IoT Edge manifest)."""
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + '\n'


def escaped_forms(value):
    """Every way ``value`` (a string) can appear inside the JSON and YAML text made here or by Ansible.

    Ansible masks ``no_log`` values by matching the raw string, but a password holding ``"``,
    ``\\``, a newline or non-ASCII letters is escaped inside a JSON or YAML document (and escaped
    twice in JSON held in a JSON string, as IoT Edge ``createOptions`` are). ``runner.run_module``
    adds these forms to the values masked in every module's output, ``--diff`` included.
    """
    if not isinstance(value, str) or not value:
        return set()
    forms = set()
    for ensure_ascii in (True, False):
        once = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
        forms.add(once)
        forms.add(json.dumps(once, ensure_ascii=ensure_ascii)[1:-1])
    if yaml is not None:
        for style in (None, '"', "'"):
            for unicode_ok in (True, False):
                text = yaml.dump(value, Dumper=_Dumper, default_style=style, allow_unicode=unicode_ok, width=2 ** 30)
                text = text[:-4] if text.endswith('\n...\n') else text.rstrip('\n')
                if len(text) > 1 and text[0] == text[-1] and text[0] in '"\'':
                    text = text[1:-1]
                lines = [line.strip() for line in text.split('\n')]
                if len(lines) == 1:
                    forms.add(lines[0])
                else:
                    # A literal block: masked line by line, except lines too short to mask safely.
                    forms.update(line for line in lines if len(line) >= 4 and line not in ('|', '|-', '|+'))
    forms.discard(value)
    return set(form for form in forms if form)
