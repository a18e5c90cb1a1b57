# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared fixtures: a fake NVML device per test, and a way to run a module's main()."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.edge_gpu.sharing.plugins.module_utils import nvml

SIM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'sim')


def load_sim_module(name, as_name):
    """Load tests/sim/NAME.py by path (tests/sim is not put on sys.path here, so that
    ``import pynvml`` keeps meaning the real nvidia-ml-py)."""
    spec = importlib.util.spec_from_file_location(as_name, os.path.join(SIM, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_fake_pynvml():
    """A fresh copy of the fake pynvml (fresh module state for every test)."""
    return load_sim_module('pynvml', 'fake_pynvml')


load_device = load_sim_module('fleet', 'sim_fleet').load_device


class FakeDevice(object):
    """One simulated device: its description file and the fake pynvml reading it."""

    def __init__(self, path, lib):
        self.path = path
        self.lib = lib

    def write(self, data):
        with open(self.path, 'w') as handle:
            json.dump(data, handle)

    def read(self):
        with open(self.path) as handle:
            return json.load(handle)

    def use(self, name, **changes):
        """Describe the device as tests/sim/devices/NAME.json, with top-level ``changes``."""
        data = load_device(name)
        data.update(changes)
        self.write(data)
        return data

    @property
    def initialised(self):
        return self.lib._state['init_count']


@pytest.fixture
def fake_device(tmp_path, monkeypatch):
    path = str(tmp_path / 'nvml.json')
    monkeypatch.setenv('EDGE_GPU_SIM_NVML', path)
    lib = load_fake_pynvml()
    monkeypatch.setattr(nvml, 'pynvml', lib)
    return FakeDevice(path, lib)


class ModuleExit(Exception):
    def __init__(self, failed, result):
        super(ModuleExit, self).__init__(result.get('msg'))
        self.failed = failed
        self.result = result


@pytest.fixture
def run_module(capsys):
    """Run ``module.main()`` with ``args``; return (failed, result) from its JSON output."""
    def run(module, args, check_mode=False):
        args = dict(args)
        if check_mode:
            args['_ansible_check_mode'] = True
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exit_info:
                module.main()
        result = json.loads(capsys.readouterr().out)
        assert bool(exit_info.value.code) == bool(result.get('failed')), result
        return bool(result.get('failed')), result
    return run


@pytest.fixture
def device_data():
    """The parsed description of tests/sim/devices/NAME.json."""
    return load_device


@pytest.fixture
def fake_pynvml():
    """A fresh copy of the fake pynvml module, not wired to anything."""
    return load_fake_pynvml()
