# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mps role's systemd unit and environment file, rendered by Ansible and checked by systemd.

The systemd branch of the role cannot run here (no systemd as PID 1), so the role's own templates
are rendered with ansible.builtin.template, as the role renders them, and the unit is checked with
``systemd-analyze verify`` against NVIDIA's real control program (``make nvidia-userland``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import pytest

from harness import MPS_CONTROL, kill_daemons_under, mps_query, require_nvidia_userland  # pylint: disable=import-error

UUID = 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7'
VARIABLES = {
    'mps_service_name': 'nvidia-mps', 'mps_user': 'mps', 'mps_group': 'video',
    'mps_pipe_directory': '/run/edge-gpu/mps-pipe', 'mps_log_directory': '/var/log/edge-gpu/mps',
    'mps_environment_file': '/etc/default/nvidia-mps', 'mps_timeout': 15,
    'mps_default_active_thread_percentage': 20,
    'mps_default_pinned_device_mem_limit': {0: '2G', 1: '512M'},
    'mps_default_client_priority': 1,
    '__mps_visible_devices': UUID + ',GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8',
}


def render(tmp_path, variables):
    """Render the installed role's templates into tmp_path with ansible-playbook; returns {name: lines}."""
    collections = os.environ['ANSIBLE_COLLECTIONS_PATH'].split(os.pathsep)[0]
    templates = os.path.join(collections, 'ansible_collections', 'edge_gpu', 'sharing', 'roles', 'mps', 'templates')
    names = ('nvidia-mps.service', 'nvidia-mps.env')
    play = [{'hosts': 'localhost', 'gather_facts': False, 'vars': variables,
             'tasks': [{'ansible.builtin.template': {'src': os.path.join(templates, name + '.j2'),
                                                     'dest': str(tmp_path / name), 'mode': '0644'}} for name in names]}]
    (tmp_path / 'play.yml').write_text(json.dumps(play))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                           '-e', 'ansible_python_interpreter=' + sys.executable, str(tmp_path / 'play.yml')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout
    return dict((name, (tmp_path / name).read_text().splitlines()) for name in names)


@pytest.fixture
def unit(tmp_path):
    require_nvidia_userland()
    return render(tmp_path, dict(VARIABLES, mps_control_binary=MPS_CONTROL))


def test_unit_runs_the_daemon_as_its_user_and_applies_every_default_at_start(unit):
    lines = unit['nvidia-mps.service']
    ctl = MPS_CONTROL
    for line in ('Type=forking', 'User=mps', 'Group=video', 'EnvironmentFile=/etc/default/nvidia-mps',
                 'ExecStartPre=+/usr/bin/install -d -o mps -g video -m 0755 /run/edge-gpu/mps-pipe /var/log/edge-gpu/mps',
                 'ExecStart=%s -d' % ctl,
                 "ExecStop=/bin/sh -c 'echo quit | %s'" % ctl, 'WantedBy=multi-user.target'):
        assert line in lines
    post = [line for line in lines if line.startswith('ExecStartPost=')]
    # First wait (bounded by mps_timeout) until the control pipe answers, then one command per default.
    assert 'until echo get_server_list | %s' % ctl in post[0] and '-ge 15' in post[0]
    assert post[1:] == ["ExecStartPost=/bin/sh -c 'echo %s | %s'" % (command, ctl) for command in (
        'set_default_active_thread_percentage 20',
        'set_default_device_pinned_mem_limit 0 2G',
        'set_default_device_pinned_mem_limit 1 512M',
        'set_default_client_priority 1')]
    env = unit['nvidia-mps.env']
    assert 'CUDA_MPS_PIPE_DIRECTORY=/run/edge-gpu/mps-pipe' in env
    assert 'CUDA_MPS_LOG_DIRECTORY=/var/log/edge-gpu/mps' in env
    assert 'CUDA_VISIBLE_DEVICES=%s,GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8' % UUID in env


def test_unit_without_defaults_or_gpu_selection_only_waits_for_the_daemon(tmp_path):
    require_nvidia_userland()
    files = render(tmp_path, dict(VARIABLES, mps_control_binary=MPS_CONTROL, mps_default_active_thread_percentage=None,
                                  mps_default_pinned_device_mem_limit={}, mps_default_client_priority=None,
                                  __mps_visible_devices=''))
    post = [line for line in files['nvidia-mps.service'] if line.startswith('ExecStartPost=')]
    assert len(post) == 1 and 'get_server_list' in post[0]
    assert not [line for line in files['nvidia-mps.env'] if line.startswith('CUDA_VISIBLE_DEVICES')]


def test_systemd_analyze_verify_accepts_the_unit(unit, tmp_path):
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        pytest.skip('systemd-analyze is not installed and could not be: `make tools` installs it '
                    '(Debian package systemd) where it runs as root')
    path = str(tmp_path / 'nvidia-mps.service')
    proc = subprocess.run([analyze, 'verify', '--man=no', path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    # Warnings (unknown keys, bad quoting, unsafe settings) exit 0: any line about the unit fails too.
    about_unit = [line for line in proc.stdout.splitlines() if 'nvidia-mps.service' in line]
    assert proc.returncode == 0 and not about_unit, proc.stdout


def test_systemd_analyze_verify_sees_a_missing_control_program(tmp_path):
    """The check above is not vacuous: the same unit with a control program that is not there fails."""
    require_nvidia_userland()
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        pytest.skip('systemd-analyze is not installed and could not be: `make tools` installs it '
                    '(Debian package systemd) where it runs as root')
    render(tmp_path, dict(VARIABLES, mps_control_binary=str(tmp_path / 'no-such-mps-control')))
    proc = subprocess.run([analyze, 'verify', '--man=no', str(tmp_path / 'nvidia-mps.service')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode != 0 and 'no-such-mps-control' in proc.stdout, proc.stdout


def exec_lines(lines, key):
    """The argument vectors of ``key=`` lines, with systemd's ``$$`` escape undone and ``+`` dropped."""
    return [shlex.split(line.split('=', 1)[1].lstrip('+').replace('$$', '$')) for line in lines if line.startswith(key + '=')]


def test_the_unit_s_own_commands_give_a_fresh_daemon_its_defaults(tmp_path):
    """Run ExecStart, ExecStartPost and ExecStop as systemd would (same environment file), no Ansible:
    what a reboot or a driver update does. The real control daemon must then report the defaults."""
    require_nvidia_userland()
    root = tempfile.mkdtemp(prefix='egs-')  # short: the control socket path must fit in 107 bytes
    try:
        pipe, logs = os.path.join(root, 'pipe'), os.path.join(root, 'log')
        files = render(tmp_path, dict(VARIABLES, mps_control_binary=MPS_CONTROL, mps_user='root', mps_group='root',
                                      mps_pipe_directory=pipe, mps_log_directory=logs, mps_timeout=10,
                                      __mps_visible_devices=''))
        env = dict(os.environ)
        env.update(line.split('=', 1) for line in files['nvidia-mps.env'] if '=' in line and not line.startswith('#'))
        lines = files['nvidia-mps.service']
        for argv in exec_lines(lines, 'ExecStartPre') + exec_lines(lines, 'ExecStart') + exec_lines(lines, 'ExecStartPost'):
            proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=30, check=False)
            assert proc.returncode == 0, (argv, proc.stdout)
        assert mps_query(pipe, 'get_default_active_thread_percentage') == (0, '20.0')
        assert mps_query(pipe, 'get_default_device_pinned_mem_limit 0') == (0, '2G')
        assert mps_query(pipe, 'get_default_device_pinned_mem_limit 1') == (0, '512M')
        assert mps_query(pipe, 'get_default_client_priority') == (0, '1')
        for argv in exec_lines(lines, 'ExecStop'):
            subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False)
    finally:
        kill_daemons_under(root)
        shutil.rmtree(root, ignore_errors=True)
