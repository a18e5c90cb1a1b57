# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""MPS on a real GPU: enable on GPU 0, see a client as M+C, disable again."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from smi import query_csv  # pylint: disable=import-error

# A CUDA client that holds a context for a few seconds, with whichever library is present.
CLIENT = '''
import time
try:
    import torch
    x = torch.ones(1024, device="cuda")
    torch.cuda.synchronize()
except ImportError:
    import cupy
    x = cupy.ones(1024)
    cupy.cuda.Device().synchronize()
print("client ready", flush=True)
time.sleep(8)
'''


def cuda_python():
    for name in ('torch', 'cupy'):
        try:
            __import__(name)
            return True
        except ImportError:
            continue
    return False


@pytest.fixture
def mps_dirs():
    if not shutil.which('nvidia-cuda-mps-control'):
        pytest.skip('nvidia-cuda-mps-control is not installed')
    root = tempfile.mkdtemp(prefix='egs-gpu-')
    yield {'pipe_directory': os.path.join(root, 'pipe'), 'log_directory': os.path.join(root, 'log')}
    subprocess.run(['nvidia-cuda-mps-control'], input='quit\n', universal_newlines=True, check=False,
                   env=dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=os.path.join(root, 'pipe')))
    shutil.rmtree(root, ignore_errors=True)


def compute_mode_0():
    return query_csv('gpu', ['index', 'compute_mode'])[0]['compute_mode']


def test_enable_client_and_disable(run_module_locally, mps_dirs):
    original = compute_mode_0()
    try:
        result = run_module_locally('edge_gpu.sharing.gpu_mode', {'gpus': [0], 'compute_mode': 'exclusive_process'})
        assert result.get('failed') is not True, result
        assert compute_mode_0() == 'Exclusive_Process'

        result = run_module_locally('edge_gpu.sharing.mps', dict(mps_dirs, gpus=[0], default_active_thread_percentage=20))
        assert result['running'] is True and result['default_active_thread_percentage'] == 20.0, result
        info = run_module_locally('edge_gpu.sharing.gpu_info', {'mps_pipe_directory': mps_dirs['pipe_directory']})['gpu_info']
        assert info['mps_daemon']['running'] is True and info['mps_daemon']['pid'] == result['pid']

        if cuda_python():
            env = dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=mps_dirs['pipe_directory'], CUDA_VISIBLE_DEVICES='0')
            client = subprocess.Popen([sys.executable, '-c', CLIENT], env=env, stdout=subprocess.PIPE, universal_newlines=True)
            try:
                assert client.stdout.readline().strip() == 'client ready'
                time.sleep(1)
                info = run_module_locally('edge_gpu.sharing.gpu_info', {'gpus': [0]})['gpu_info']
                types = dict((proc['pid'], proc['type']) for proc in info['gpus'][0]['processes'])
                assert types.get(client.pid) == 'M+C', info['gpus'][0]['processes']
                assert any(proc['mps_server'] for proc in info['gpus'][0]['processes'])
            finally:
                client.wait(timeout=60)

        result = run_module_locally('edge_gpu.sharing.mps', dict(mps_dirs, state='stopped', force=True))
        assert result['running'] is False
    finally:
        run_module_locally('edge_gpu.sharing.gpu_mode', {'gpus': [0], 'compute_mode': 'default', 'force': True})
    assert compute_mode_0() == 'Default' or original != 'Default'
