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

import jsonschema
import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19: modules read their arguments from basic._ANSIBLE_ARGS
    import contextlib

    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

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
iotedge_agent = load_sim_module('iotedge_agent', 'sim_iotedge_agent')
shared_reference = load_sim_module('shared_reference', 'sim_shared_reference')


@pytest.fixture(name='iotedge_agent')
def iotedge_agent_fixture():
    return iotedge_agent


@pytest.fixture
def check_iotedge_manifest():
    """What an IoT Edge agent needs from a manifest (tests/sim/iotedge_agent.py); runs everywhere."""
    return iotedge_agent.check_manifest


@pytest.fixture
def check_iotedge_everywhere():
    """The agent's checks always, and SchemaStore's schema as well where ../shared has it."""
    def check(manifest):
        iotedge_agent.check_manifest(manifest)
        if os.path.exists(shared_reference.IOTEDGE_SCHEMA):
            jsonschema.validate(manifest, shared_reference.iotedge_schema())
    return check


@pytest.fixture
def iotedge_reference_schema():
    """SchemaStore's manifest schema from ../shared; skips the test where ../shared is absent."""
    return shared_reference.iotedge_schema()


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


class FakeMpsDaemon(object):
    """Answers like NVIDIA's nvidia-cuda-mps-control (replies seen from the real 535 binary),
    for unit tests that must reach paths the real daemon cannot: clients, refusals, hangs."""

    BINARY = '/usr/bin/nvidia-cuda-mps-control'

    def __init__(self):
        self.running = False
        self.pid = None
        self.env = {}
        self.percentage = 100.0
        self.limits = {}
        self.priority = 0
        self.servers = []
        self.clients = {}
        self.start_rc = 0
        self.start_output = ''
        self.hang_on = set()
        self.refuse = set()
        self.calls = []

    def run_command(self, args, data=None, environ_update=None, **kwargs):
        args = list(args)
        if args[0].endswith('timeout'):
            args = args[2:]
        assert args[0] == self.BINARY, args
        command = (data or '').strip() if len(args) == 1 else ' '.join(args[1:])
        self.calls.append(command)
        if command.split(' ')[0] in self.hang_on:
            return 124, '', ''
        if command == '-d':
            if self.start_rc:
                return self.start_rc, self.start_output, ''
            if self.running:
                return 1, 'An instance of this daemon is already running\n', ''
            self.running, self.pid, self.env = True, 4242, dict(environ_update)
            self.percentage, self.limits, self.priority = 100.0, {}, 0
            return 0, '', ''
        if not self.running:
            return 1, 'Cannot find MPS control daemon process\n', ''
        return 0, self.answer(command), ''

    def answer(self, command):
        words = command.split()
        name, values = words[0], words[1:]
        if name in self.refuse:
            return {'set_default_active_thread_percentage': '%.1f' % self.percentage}.get(name, 'refused')
        if name == 'get_server_list':
            return '\n'.join(str(pid) for pid in self.servers)
        if name == 'get_client_list':
            server = int(values[0])
            if server not in self.servers:
                return 'Server %d not found' % server
            return '\n'.join(str(pid) for pid in self.clients.get(server, []))
        if name == 'get_default_active_thread_percentage':
            return '%.1f' % self.percentage
        if name == 'set_default_active_thread_percentage':
            self.percentage = float(values[0])
            return '%.1f' % self.percentage
        if name == 'get_default_device_pinned_mem_limit':
            return self.limits.get(int(values[0]), '')
        if name == 'set_default_device_pinned_mem_limit':
            self.limits[int(values[0])] = values[1]
            return ''
        if name == 'get_default_client_priority':
            return str(self.priority)
        if name == 'set_default_client_priority':
            self.priority = int(values[0])
            return ''
        if name == 'quit':
            self.running, self.pid, self.servers, self.clients = False, None, [], {}
            return ''
        return 'Unknown command "%s"' % command


@pytest.fixture
def mps_daemon(monkeypatch):
    """A FakeMpsDaemon wired into module_utils.mps and AnsibleModule.run_command."""
    from ansible.module_utils import basic
    from ansible_collections.edge_gpu.sharing.plugins.module_utils import mps

    daemon = FakeMpsDaemon()
    monkeypatch.setattr(mps, 'daemon_pid', lambda pipe: daemon.pid if daemon.running else None)
    # The fake daemon's pid is made up: never signal whatever process really has it.
    daemon.terminated = []

    def terminate(control, pid):
        daemon.terminated.append(pid)
        if daemon.terminate_works:
            daemon.running, daemon.pid = False, None
        return daemon.terminate_works
    daemon.terminate_works = True
    monkeypatch.setattr(mps.MpsControl, '_terminate', terminate)
    monkeypatch.setattr(mps, 'daemon_environment', lambda pid: daemon.env)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command',
                        lambda self, args, **kwargs: daemon.run_command(args, **kwargs))
    tools = {'nvidia-cuda-mps-control': FakeMpsDaemon.BINARY, 'timeout': '/usr/bin/timeout'}
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: tools.get(name))
    return daemon
