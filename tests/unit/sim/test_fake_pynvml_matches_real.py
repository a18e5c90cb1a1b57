# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fake pynvml may only use names the real nvidia-ml-py has, with the same values."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import inspect

import pytest

real = pytest.importorskip('pynvml')


@pytest.fixture
def fake(fake_pynvml):
    return fake_pynvml


def public_names(module):
    return sorted(name for name in vars(module) if not name.startswith('_')
                  and name not in ('absolute_import', 'division', 'print_function')
                  and not inspect.ismodule(getattr(module, name)))


def test_the_real_module_is_nvidia_ml_py():
    assert hasattr(real, 'nvmlDeviceGetMPSComputeRunningProcesses')


def test_every_public_name_exists_in_the_real_module(fake):
    missing = [name for name in public_names(fake) if not hasattr(real, name)]
    assert missing == []


def test_constants_have_the_real_values(fake):
    constants = [name for name in public_names(fake) if name.isupper() or name.startswith('NVML_')]
    assert len(constants) > 30
    wrong = dict((name, (getattr(fake, name), getattr(real, name))) for name in constants
                 if getattr(fake, name) != getattr(real, name))
    assert wrong == {}


def test_functions_exist_and_take_the_same_arguments(fake):
    functions = [name for name in public_names(fake) if inspect.isfunction(getattr(fake, name))]
    assert 'nvmlDeviceGetComputeRunningProcesses' in functions
    different = {}
    for name in functions:
        real_function = getattr(real, name)
        assert callable(real_function), name
        # Decorated functions in the real module hide their signature; compare where visible.
        real_params = list(inspect.signature(real_function).parameters)
        if real_params in (['args', 'kwargs'], ['func']):
            continue
        fake_params = list(inspect.signature(getattr(fake, name)).parameters)
        if fake_params != real_params:
            different[name] = (fake_params, real_params)
    assert different == {}


def test_exception_classes_map_to_the_same_codes(fake):
    classes = [name for name in public_names(fake) if name.startswith('NVMLError_')]
    assert len(classes) >= 20
    for name in classes:
        fake_class, real_class = getattr(fake, name), getattr(real, name)
        assert issubclass(real_class, real.NVMLError)
        assert fake_class().value == real_class().value, name
        assert fake.NVMLError(fake_class().value).__class__ is fake_class
    assert set(real.NVMLError._valClassMapping) >= set(fake.NVMLError._valClassMapping)


def test_error_messages_match_for_the_codes_the_fake_names(fake):
    for code in fake._MESSAGES:
        assert str(fake.NVMLError(code)) == str(real.NVMLError(code)), code


def test_struct_fields_exist_in_the_real_structs(fake):
    structs = [name for name in public_names(fake) if hasattr(getattr(fake, name), '_fields_')]
    assert set(structs) >= {'c_nvmlMemory_t', 'c_nvmlMemory_v2_t', 'c_nvmlUtilization_t', 'nvmlPciInfo_t',
                            'c_nvmlProcessInfo_t', 'c_nvmlProcessUtilizationSample_t'}
    for name in structs:
        real_fields = set(field for field, _type in getattr(real, name)._fields_)
        fake_fields = set(field for field, _type in getattr(fake, name)._fields_)
        assert fake_fields <= real_fields, name
