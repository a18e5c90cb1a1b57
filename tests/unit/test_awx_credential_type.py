# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AWX credential type for IoT Hub (playbooks/awx/credential_types/iothub.yml).

Its injector must set the environment variable the iotedge_deployment module falls back to when
no connection_string is given. That name is read from the module's DOCUMENTATION (the
connection_string option names it as E(...)) and checked against the module's argument spec,
so it is written once in the module and nowhere else here. The file is also a valid AWX custom
credential type: fields with ids, labels and types, the connection string secret and required,
a kind AWX accepts for custom types, and injectors that use only the type's own fields.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CREDENTIAL_TYPE = os.path.join(ROOT, 'playbooks', 'awx', 'credential_types', 'iothub.yml')
MODULE = os.path.join(ROOT, 'plugins', 'modules', 'iotedge_deployment.py')

# What AWX accepts in a custom credential type (its custom credential types documentation):
# custom types are of kind cloud or net; field types string or boolean.
CUSTOM_KINDS = {'cloud', 'net'}
FIELD_KEYS = {'id', 'label', 'type', 'secret', 'help_text', 'multiline', 'choices', 'format', 'ask_at_runtime'}


def load_type():
    with open(CREDENTIAL_TYPE) as handle:
        return yaml.safe_load(handle)


def module_source():
    with open(MODULE) as handle:
        return handle.read()


def module_constant(name):
    """A string constant of the module (DOCUMENTATION), read without importing it."""
    for node in ast.parse(module_source()).body:
        if isinstance(node, ast.Assign) and any(getattr(target, 'id', None) == name for target in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError('%s has no %s' % (MODULE, name))


def documented_fallback():
    option = yaml.safe_load(module_constant('DOCUMENTATION'))['options']['connection_string']
    description = option['description']
    text = ' '.join(description) if isinstance(description, list) else description
    names = sorted(set(re.findall(r'E\(([A-Z][A-Z0-9_]*)\)', text)))
    assert len(names) == 1, 'connection_string should name one environment variable as E(...): %r' % text
    return names[0]


def test_module_documents_one_environment_fallback_and_uses_it():
    name = documented_fallback()
    # The argument spec reads the same variable (env_fallback), so the documentation is not a promise only.
    assert re.search(r"env_fallback\s*,\s*\[\s*'%s'\s*\]" % name, module_source()), name


def test_injector_sets_the_variable_the_module_reads():
    credential_type = load_type()
    env = credential_type['injectors']['env']
    assert list(env) == [documented_fallback()]
    assert env[documented_fallback()] == '{{ connection_string }}'


def test_the_connection_string_is_a_required_secret_field():
    inputs = load_type()['inputs']
    fields = dict((field['id'], field) for field in inputs['fields'])
    assert fields['connection_string']['secret'] is True
    assert fields['connection_string']['type'] == 'string'
    assert 'connection_string' in inputs['required']


def test_is_a_valid_awx_custom_credential_type():
    credential_type = load_type()
    assert set(credential_type) == {'name', 'description', 'kind', 'inputs', 'injectors'}
    assert credential_type['name'] and credential_type['kind'] in CUSTOM_KINDS
    ids = []
    for field in credential_type['inputs']['fields']:
        assert set(field) <= FIELD_KEYS, field
        assert re.match(r'^[a-z_][a-z0-9_]*$', field['id']) and field['label'] and field['type'] in ('string', 'boolean'), field
        ids.append(field['id'])
    assert len(ids) == len(set(ids))
    assert set(credential_type['inputs']['required']) <= set(ids)
    assert set(credential_type['injectors']) <= {'env', 'extra_vars', 'file'}
    for section in credential_type['injectors'].values():
        for value in section.values():
            used = set(re.findall(r'\{\{\s*(\w+)\s*\}\}', value))
            assert used and used <= set(ids), value
