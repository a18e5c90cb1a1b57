# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.edge_gpu.sharing.plugins.module_utils import plan as planner

GIB = 1024 ** 3
UUIDS = ['GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6', 'GPU-2d3e4f5a-6b7c-8d9e-0fa1-b2c3d4e5f6a7',
         'GPU-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8']


def gpu(index, memory_gib=15, mig=False, capability='7.5'):
    return {'index': index, 'uuid': UUIDS[index], 'name': 'Tesla T4', 'compute_capability': capability,
            'memory': {'total': memory_gib * GIB, 'used': 0, 'free': memory_gib * GIB},
            'mig_mode': {'current': 'enabled', 'pending': 'enabled'} if mig else None}


def work(name, **more):
    return dict(name=name, image='registry.local/%s:1' % name, **more)


def test_vendor_time_sharing_example():
    plan = planner.make_plan([gpu(0)], [work('nbody1', gpu=0), work('nbody2', gpu=0)], 'time_slicing')
    assert [w['env'] for w in plan['workloads']] == [{'NVIDIA_VISIBLE_DEVICES': '0'}] * 2
    assert plan['gpus'][0]['clients'] == 2 and plan['gpus'][0]['workloads'] == ['nbody1', 'nbody2']


def test_vendor_mps_example():
    plan = planner.make_plan([gpu(0)], [work('nbody1', gpu_percentage=40), work('nbody2', gpu_percentage=60)], 'mps')
    assert [w['env'] for w in plan['workloads']] == [
        {'NVIDIA_VISIBLE_DEVICES': '0', 'CUDA_MPS_PIPE_DIRECTORY': '/tmp/nvidia-mps', 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '40'},
        {'NVIDIA_VISIBLE_DEVICES': '0', 'CUDA_MPS_PIPE_DIRECTORY': '/tmp/nvidia-mps', 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '60'}]
    assert plan['gpus'][0]['percentage'] == 100.0


def test_a_client_memory_limit_is_never_rounded_down():
    # 1536M is not a whole number of G: the client's variable must still say 1.5 GiB.
    plan = planner.make_plan([gpu(0)], [work('a', gpu_memory='1536M'), work('b', gpu_memory='1536K')], 'mps',
                             oversubscribe=True)
    assert [w['env']['CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'] for w in plan['workloads']] == ['0=1536M', '0=1536K']


def test_balances_and_sets_memory_limits():
    plan = planner.make_plan([gpu(0), gpu(1)], [
        work('detector', gpu_percentage=20, gpu_memory='2G'), work('tracker', gpu_percentage=30),
        work('counter', gpu_percentage=10.5, env={'LOG': 'debug', 'DEBUG': True})], 'mps', device_ids='uuid')
    by_name = dict((w['name'], w) for w in plan['workloads'])
    assert by_name['detector']['gpus'] == [0] and by_name['tracker']['gpus'] == [1] and by_name['counter']['gpus'] == [0]
    assert by_name['detector']['env']['CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'] == '0=2G'
    assert by_name['detector']['env']['NVIDIA_VISIBLE_DEVICES'] == UUIDS[0]
    assert by_name['counter']['env']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '10.5'
    assert by_name['counter']['env']['DEBUG'] == 'true' and by_name['counter']['env']['LOG'] == 'debug'
    assert [g['percentage'] for g in plan['gpus']] == [30.5, 30.0]
    assert plan['gpus'][0]['memory'] == 2 * GIB


def test_all_gpus():
    plan = planner.make_plan([gpu(0), gpu(1)], [work('trainer', gpu='all', gpu_memory='1G')], 'mps')
    env = plan['workloads'][0]['env']
    assert env['NVIDIA_VISIBLE_DEVICES'] == 'all' and env['CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'] == '0=1G,1=1G'
    assert [g['clients'] for g in plan['gpus']] == [1, 1]


def test_all_with_one_gpu_reserved_means_the_other():
    plan = planner.make_plan([gpu(0), gpu(1)], [work('trainer', gpu='all')], reserved_gpus=[UUIDS[0]])
    assert plan['workloads'][0]['env'] == {'NVIDIA_VISIBLE_DEVICES': '1'}
    assert plan['gpus'][0]['reserved'] is True and plan['gpus'][0]['clients'] == 0


def test_kubernetes_style_env_list():
    plan = planner.make_plan([gpu(0)], [work('a', env=[{'name': 'X', 'value': 1}])])
    assert plan['workloads'][0]['env']['X'] == '1'


def test_oversubscribe_allows_more_than_100():
    plan = planner.make_plan([gpu(0)], [work('a', gpu_percentage=80), work('b', gpu_percentage=80)], 'mps', oversubscribe=True)
    assert plan['gpus'][0]['percentage'] == 160.0


def test_workload_without_percentage_takes_the_whole_gpu_under_mps():
    with pytest.raises(planner.PlanError) as info:
        planner.make_plan([gpu(0)], [work('a'), work('b', gpu_percentage=10)], 'mps')
    assert "workload 'b'" in str(info.value) and '110 %' in str(info.value)


@pytest.mark.parametrize('gpus, workloads, kwargs, words', [
    ([gpu(0)], [work('a', gpu_percentage=60), work('b', gpu_percentage=50)], {'sharing': 'mps'}, "workload 'b': does not fit"),
    ([gpu(0)], [work('a', gpu_memory='10G'), work('b', gpu_memory='6G')], {}, "workload 'b': does not fit on any GPU"),
    ([gpu(0)], [work('a', gpu_memory='16G')], {}, 'has 15G of memory, none already planned, 16G asked'),
    ([gpu(0)], [work('w%d' % n, gpu_percentage=1) for n in range(49)], {'sharing': 'mps'}, "workload 'w48'"),
    ([gpu(0, capability='7.0')], [work('w%d' % n, gpu_percentage=1) for n in range(17)], {'sharing': 'mps'}, '16 MPS clients'),
    ([gpu(0), gpu(1)], [work('a', gpu=1)], {'reserved_gpus': [1]}, "workload 'a': pinned to GPU 1 (%s) is reserved for VMs" % UUIDS[1]),
    ([gpu(0), gpu(1, mig=True)], [work('a', gpu=1)], {}, 'is MIG-enabled'),
    ([gpu(0)], [work('a', gpu_percentage=20)], {}, 'time-sliced GPUs are shared whole'),
    ([gpu(0)], [work('a', gpu=3)], {}, "workload 'a': gpu 3 does not exist"),
    ([gpu(0)], [work('a', gpu='first')], {}, "workload 'a': gpu: GPU selector 'first'"),
    ([gpu(0), gpu(1), gpu(2)], [work('a', gpu='all')], {'reserved_gpus': [0]}, 'never several specific ones'),
    ([gpu(0)], [work('a')], {'reserved_gpus': [0]}, 'no GPU can take it'),
    ([], [work('a')], {}, 'the device has no GPU'),
    ([gpu(0)], [work('a', gpu_percentage=0)], {'sharing': 'mps'}, 'gpu_percentage must be a number from 1 to 100, got 0'),
    ([gpu(0)], [work('a', gpu_percentage='20%')], {'sharing': 'mps'}, "got '20%'"),
    ([gpu(0)], [work('a', gpu_memory='2X')], {}, "'2X' is not a memory size"),
    ([gpu(0)], [work('Bad_Name')], {}, "workload 'Bad_Name': the name must be a DNS-1123 label"),
    ([gpu(0)], [work('a'), work('a')], {}, 'the name is used twice'),
    ([gpu(0)], [dict(work('a'), image='bad image')], {}, "image 'bad image' is not a container image reference"),
    ([gpu(0)], [dict(work('a'), image='x"; rm -rf /')], {}, 'is not a container image reference'),
    ([gpu(0)], [work('a', env={'BAD-NAME': 'x'})], {}, "'BAD-NAME' is not a valid environment variable name"),
    ([gpu(0)], [work('a', env={'NVIDIA_VISIBLE_DEVICES': 'all'})], {}, 'env NVIDIA_VISIBLE_DEVICES is set by the sharing plan'),
    ([gpu(0)], [work('a', env={'X': {'y': 1}})], {}, 'env X must be a string'),
    ([gpu(0)], [work('a', env='X=1')], {}, 'env must be a dictionary'),
    ([gpu(0)], [work('a', env=[{'value': 1}])], {}, 'env must be a dictionary or a list'),
    ([gpu(0)], [work('a', command={'sh': 1})], {}, 'command must be a list of strings'),
    ([gpu(0)], [work('a', gpus=1)], {}, 'unknown keys gpus'),
    ([gpu(0)], ['a'], {}, "workload 'a' must be a dictionary"),
    ([gpu(0)], 'a', {}, 'workloads must be a list'),
    ([gpu(0)], [work('a')], {'sharing': 'half'}, "sharing must be mps, time_slicing or none, got 'half'"),
    ([gpu(0)], [work('a')], {'device_ids': 'serial'}, 'device_ids must be index or uuid'),
    ([{'name': 'x'}], [work('a')], {}, 'gpus must be the GPU list'),
    ([gpu(0)], [work('a')], {'reserved_gpus': [4]}, 'reserved_gpus: no GPU matches 4'),
    ([gpu(0)], [work('a')], {'reserved_gpus': ['x']}, "reserved_gpus: GPU selector 'x'"),
])
def test_failures_name_the_workload_and_why(gpus, workloads, kwargs, words):
    with pytest.raises(planner.PlanError) as info:
        planner.make_plan(gpus, workloads, **kwargs)
    assert words in str(info.value)


def test_every_offending_workload_is_listed():
    with pytest.raises(planner.PlanError) as info:
        planner.make_plan([gpu(0)], [work('a', gpu_percentage=70), work('b', gpu_percentage=70), work('c', gpu_percentage=70),
                                     work('d', gpu=2)], 'mps')
    problems = info.value.problems
    assert [p.split(':')[0] for p in problems] == ["workload 'd'", "workload 'b'", "workload 'c'"]
    with pytest.raises(planner.PlanError) as info:
        planner.make_plan([gpu(0)], [work('a', gpu_percentage=70), work('b', gpu_percentage=70), work('c', gpu_percentage=70)], 'mps')
    assert [p.split(':')[0] for p in info.value.problems] == ["workload 'b'", "workload 'c'"]


# ---- per-GPU sharing -------------------------------------------------------------------------

MPS_VARIABLES = ('CUDA_MPS_PIPE_DIRECTORY', 'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT')


def mps_variables(env):
    return sorted(name for name in env if name.startswith('CUDA_MPS_'))


def test_mps_on_gpu_1_only_gives_no_mps_variables_on_gpu_0():
    # Two T4s, MPS serving GPU 1 only (the case).
    plan = planner.make_plan([gpu(0), gpu(1)], [
        work('camera', gpu=0), work('detector', gpu_percentage=30, gpu_memory='2G'), work('tracker', gpu=1)],
        gpu_sharing={1: 'mps'}, oversubscribe=True)
    by_name = dict((w['name'], w) for w in plan['workloads'])
    assert by_name['camera']['env'] == {'NVIDIA_VISIBLE_DEVICES': '0'}
    assert by_name['camera']['sharing'] == 'time_slicing' and by_name['camera']['mps'] is False
    # A percentage goes to the MPS GPU without being pinned there.
    assert by_name['detector']['gpus'] == [1] and by_name['detector']['sharing'] == 'mps'
    assert by_name['detector']['env']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '30'
    # Every client of an MPS GPU goes through MPS, with a limit or without.
    assert by_name['tracker']['env'] == {'NVIDIA_VISIBLE_DEVICES': '1', 'CUDA_MPS_PIPE_DIRECTORY': '/tmp/nvidia-mps'}
    assert by_name['tracker']['mps'] is True
    assert [g['sharing'] for g in plan['gpus']] == ['time_slicing', 'mps']
    assert plan['gpus'][0]['percentage'] is None and plan['mps_pipe_directory'] == '/tmp/nvidia-mps'
    assert plan['sharing'] == 'time_slicing'


def test_gpu_sharing_keys_by_uuid_and_as_strings():
    plan = planner.make_plan([gpu(0), gpu(1)], [work('a', gpu_percentage=10)], 'mps',
                             gpu_sharing={UUIDS[0]: 'time_slicing', '1': 'mps'})
    assert plan['workloads'][0]['gpus'] == [1]
    assert [g['sharing'] for g in plan['gpus']] == ['time_slicing', 'mps']


def test_no_mps_gpu_means_no_pipe_directory_even_with_sharing_mps():
    plan = planner.make_plan([gpu(0)], [work('a')], 'mps', gpu_sharing={0: 'time_slicing'})
    assert plan['mps_pipe_directory'] is None and plan['workloads'][0]['env'] == {'NVIDIA_VISIBLE_DEVICES': '0'}


def test_unpinned_workload_without_percentage_prefers_time_sliced_gpus():
    plan = planner.make_plan([gpu(0), gpu(1), gpu(2)], [work('a'), work('b'), work('c', gpu_percentage=50)],
                             gpu_sharing={0: 'mps', 1: 'none', 2: 'time_slicing'})
    assert [w['gpus'] for w in plan['workloads']] == [[2], [2], [0]]


def test_sharing_none_takes_one_workload_then_places_the_next_elsewhere():
    plan = planner.make_plan([gpu(0), gpu(1)], [work('a', gpu=0), work('b'), work('c')], gpu_sharing={0: 'none'})
    assert [w['gpus'] for w in plan['workloads']] == [[0], [1], [1]]
    assert plan['workloads'][0]['env'] == {'NVIDIA_VISIBLE_DEVICES': '0'} and plan['workloads'][0]['sharing'] == 'none'
    assert plan['gpus'][0]['clients'] == 1 and plan['gpus'][0]['percentage'] is None


def test_sharing_none_for_every_gpu():
    plan = planner.make_plan([gpu(0), gpu(1)], [work('a'), work('b')], 'none')
    assert [w['gpus'] for w in plan['workloads']] == [[0], [1]]
    with pytest.raises(planner.PlanError) as info:
        planner.make_plan([gpu(0), gpu(1)], [work('a'), work('b'), work('c')], 'none')
    assert info.value.problems == [
        "workload 'c': does not fit on any GPU: GPU 0 (%s) (sharing none) is not shared and already runs a; "
        "GPU 1 (%s) (sharing none) is not shared and already runs b" % (UUIDS[0], UUIDS[1])]


def test_gpu_all_on_gpus_shared_the_same_way():
    plan = planner.make_plan([gpu(0), gpu(1)], [work('trainer', gpu='all', gpu_memory='1G')], 'time_slicing',
                             gpu_sharing={0: 'mps', 1: 'mps'})
    assert plan['workloads'][0]['env']['CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'] == '0=1G,1=1G'
    # A reserved GPU's strategy does not matter to gpu: all.
    plan = planner.make_plan([gpu(0), gpu(1)], [work('t', gpu='all')], gpu_sharing={0: 'mps'}, reserved_gpus=[0])
    assert plan['workloads'][0]['env'] == {'NVIDIA_VISIBLE_DEVICES': '1'}


def test_workload_without_a_gpu():
    plan = planner.make_plan([gpu(0)], [work('uploader', gpu='none', env={'A': 1}), work('b', gpu_percentage=100)], 'mps')
    uploader = plan['workloads'][0]
    assert uploader['env'] == {'NVIDIA_VISIBLE_DEVICES': 'void', 'A': '1'}
    assert uploader['gpus'] == [] and uploader['gpu_uuids'] == [] and uploader['mps'] is False
    assert uploader['sharing'] is None and uploader['gpu'] == 'none'
    assert plan['gpus'][0]['clients'] == 1 and plan['gpus'][0]['workloads'] == ['b']
    # Even on a device without GPUs.
    assert planner.make_plan([], [work('x', gpu='none')])['workloads'][0]['gpus'] == []


def test_settings_are_carried_type_checked():
    plan = planner.make_plan([gpu(0)], [work('a', host_pid='yes', backoff_limit='3', restart_policy='OnFailure',
                                             node_selector={'site': 'x'}, tolerations=[], create_options={})])
    assert plan['workloads'][0]['settings'] == {'host_pid': True, 'backoff_limit': 3, 'restart_policy': 'OnFailure',
                                                'node_selector': {'site': 'x'}, 'tolerations': [], 'create_options': {}}
    assert planner.make_plan([gpu(0)], [work('a')])['workloads'][0]['settings'] == {}


@pytest.mark.parametrize('gpus, workloads, kwargs, words', [
    ([gpu(0), gpu(1)], [work('a', gpu=0, gpu_percentage=20)], {'gpu_sharing': {1: 'mps'}},
     "workload 'a': does not fit: gpu_percentage 20 needs an MPS GPU, but GPU 0 (%s) (sharing time_slicing)" % UUIDS[0]),
    ([gpu(0), gpu(1)], [work('a', gpu=1, gpu_percentage=20)], {'sharing': 'mps', 'gpu_sharing': {1: 'none'}},
     "workload 'a': does not fit: gpu_percentage 20 needs an MPS GPU, but GPU 1 (%s) (sharing none)" % UUIDS[1]),
    ([gpu(0), gpu(1)], [work('a', gpu_percentage=60), work('b', gpu_percentage=60)], {'gpu_sharing': {1: 'mps'}},
     "workload 'b': does not fit on any GPU: GPU 1 (%s) would be at 120 %%" % UUIDS[1]),
    ([gpu(0)], [work('a', gpu=0), work('b', gpu=0)], {'gpu_sharing': {0: 'none'}},
     "workload 'b': does not fit: GPU 0 (%s) (sharing none) is not shared and already runs a" % UUIDS[0]),
    ([gpu(0), gpu(1)], [work('a', gpu='all')], {'gpu_sharing': {1: 'mps'}},
     "workload 'a': gpu all would span GPUs that are shared differently (GPU 0 (%s) (sharing time_slicing), "
     "GPU 1 (%s) (sharing mps))" % (UUIDS[0], UUIDS[1])),
    ([gpu(0)], [work('a', gpu='none', gpu_percentage=10)], {'sharing': 'mps'},
     "workload 'a': gpu_percentage 10 asks for GPU resources, but gpu is none"),
    ([gpu(0)], [work('a', gpu='none', gpu_memory='1G')], {},
     "workload 'a': gpu_memory '1G' asks for GPU resources, but gpu is none"),
    ([gpu(0)], [work('a', gpu='nothing')], {}, "workload 'a': gpu: GPU selector 'nothing'"),
    ([gpu(0)], [work('a')], {'gpu_sharing': {0: 'half'}},
     "gpu_sharing: GPU 0: sharing must be mps, time_slicing or none, got 'half'"),
    ([gpu(0)], [work('a')], {'gpu_sharing': {3: 'mps'}}, 'gpu_sharing: no GPU matches 3; this host has GPU 0'),
    ([gpu(0)], [work('a')], {'gpu_sharing': {'first': 'mps'}}, "gpu_sharing: GPU selector 'first'"),
    ([gpu(0)], [work('a')], {'gpu_sharing': {0: 'mps', UUIDS[0]: 'none'}}, 'gpu_sharing names GPU 0 (%s) twice' % UUIDS[0]),
    ([gpu(0)], [work('a')], {'gpu_sharing': ['mps']}, "gpu_sharing must be a dictionary"),
    ([gpu(0)], [work('a')], {'gpu_sharing': {0: 'mps'}, 'mps_pipe_directory': 'relative'},
     "mps_pipe_directory 'relative' must be an absolute path"),
    ([gpu(0)], [work('a', host_pid='maybe')], {}, "workload 'a': host_pid must be true or false, got 'maybe'"),
    ([gpu(0)], [work('a', backoff_limit=-1)], {}, "workload 'a': backoff_limit must be a whole number of 0 or more, got -1"),
    ([gpu(0)], [work('a', node_selector=['x'])], {}, "workload 'a': node_selector must be a dictionary, got ['x']"),
    ([gpu(0)], [work('a', tolerations={'key': 'x'})], {}, "workload 'a': tolerations must be a list"),
    ([gpu(0)], [work('a', restart_policy=1)], {}, "workload 'a': restart_policy must be a string, got 1"),
])
def test_per_gpu_sharing_refusals_name_the_workload_gpu_and_why(gpus, workloads, kwargs, words):
    with pytest.raises(planner.PlanError) as info:
        planner.make_plan(gpus, workloads, **kwargs)
    assert words in str(info.value)


# ---- properties ------------------------------------------------------------------------------

workload_specs = st.lists(st.tuples(
    st.one_of(st.none(), st.integers(min_value=1, max_value=100)),   # percentage
    st.one_of(st.none(), st.integers(min_value=1, max_value=8)),     # memory GiB
    st.one_of(st.none(), st.sampled_from([0, 1, 2, 'all'])),        # pin
), min_size=1, max_size=12)


def build(specs, sharing):
    workloads = []
    for number, (percentage, memory, pin) in enumerate(specs):
        item = work('w%d' % number)
        if percentage is not None and sharing == 'mps':
            item['gpu_percentage'] = percentage
        if memory is not None:
            item['gpu_memory'] = '%dG' % memory
        if pin is not None:
            item['gpu'] = pin
        workloads.append(item)
    return workloads


@settings(max_examples=300, deadline=None)
@given(specs=workload_specs, sharing=st.sampled_from(['mps', 'time_slicing']),
       reserved=st.sets(st.sampled_from([0, 1, 2]), max_size=2), mig=st.sets(st.sampled_from([0, 1, 2]), max_size=1),
       count=st.integers(min_value=1, max_value=3))
def test_no_plan_exceeds_a_limit_or_uses_a_reserved_gpu(specs, sharing, reserved, mig, count):
    gpus = [gpu(index, mig=index in mig) for index in range(count)]
    reserved = [index for index in reserved if index < count]
    workloads = build(specs, sharing)
    try:
        plan = planner.make_plan(gpus, workloads, sharing, reserved_gpus=reserved)
    except planner.PlanError as exc:
        # Every problem names a workload (or a global option) and says why.
        assert exc.problems and all(p.startswith("workload '") for p in exc.problems)
        return
    for entry in plan['gpus']:
        if entry['index'] in reserved or entry['index'] in mig:
            assert entry['clients'] == 0 and entry['workloads'] == []
        assert entry['memory'] <= entry['memory_total']
        if sharing == 'mps':
            assert entry['percentage'] <= 100.0 and entry['clients'] <= 48
    assert sorted(w['name'] for w in plan['workloads']) == sorted(w['name'] for w in workloads)
    for placed in plan['workloads']:
        assert not set(placed['gpus']) & (set(reserved) | mig)
        assert placed['env']['NVIDIA_VISIBLE_DEVICES'] == 'all' or placed['env']['NVIDIA_VISIBLE_DEVICES'].isdigit()


strategies = st.sampled_from(['mps', 'time_slicing', 'none'])
gpu_sharings = st.dictionaries(st.sampled_from([0, 1, 2]), strategies, max_size=3)
mixed_specs = st.lists(st.tuples(
    st.one_of(st.none(), st.integers(min_value=1, max_value=100)),   # percentage
    st.one_of(st.none(), st.integers(min_value=1, max_value=8)),     # memory GiB
    st.one_of(st.none(), st.sampled_from([0, 1, 2, 'all', 'none'])),  # pin
), min_size=1, max_size=12)


def build_mixed(specs):
    workloads = []
    for number, (percentage, memory, pin) in enumerate(specs):
        item = work('w%d' % number)
        if percentage is not None and pin != 'none':
            item['gpu_percentage'] = percentage
        if memory is not None and pin != 'none':
            item['gpu_memory'] = '%dG' % memory
        if pin is not None:
            item['gpu'] = pin
        workloads.append(item)
    return workloads


@settings(max_examples=300, deadline=None)
@given(specs=mixed_specs, sharing=strategies, gpu_sharing=gpu_sharings, reserved=st.sets(st.sampled_from([0, 1, 2]), max_size=1))
def test_no_workload_on_a_non_mps_gpu_has_mps_variables(specs, sharing, gpu_sharing, reserved):
    gpus = [gpu(0), gpu(1), gpu(2)]
    try:
        plan = planner.make_plan(gpus, build_mixed(specs), sharing, reserved_gpus=sorted(reserved), gpu_sharing=gpu_sharing)
    except planner.PlanError as exc:
        assert exc.problems and all(p.startswith("workload '") for p in exc.problems)
        return
    strategy = dict((entry['index'], entry['sharing']) for entry in plan['gpus'])
    assert strategy == dict((index, gpu_sharing.get(index, sharing)) for index in range(3))
    for placed in plan['workloads']:
        on = set(strategy[index] for index in placed['gpus'])
        assert len(on) <= 1
        if on == {'mps'}:
            assert placed['env']['CUDA_MPS_PIPE_DIRECTORY'] == '/tmp/nvidia-mps' and placed['mps'] is True
        else:
            assert mps_variables(placed['env']) == [] and placed['mps'] is False
        if placed['gpu_percentage'] is not None:
            assert on == {'mps'}
        if not placed['gpus']:
            assert placed['env']['NVIDIA_VISIBLE_DEVICES'] == 'void'
    for entry in plan['gpus']:
        if entry['sharing'] == 'none':
            assert entry['clients'] <= 1
        if entry['sharing'] == 'mps':
            assert entry['percentage'] <= 100.0
        else:
            assert entry['percentage'] is None
    assert (plan['mps_pipe_directory'] is not None) == ('mps' in strategy.values())


@settings(max_examples=200, deadline=None)
@given(specs=mixed_specs, extra=mixed_specs, sharing=strategies, gpu_sharing=gpu_sharings)
def test_mixed_placements_are_deterministic_and_stable_when_workloads_are_added(specs, extra, sharing, gpu_sharing):
    gpus = [gpu(0), gpu(1), gpu(2)]
    first = build_mixed(specs)
    more = [dict(item, name='x%d' % n) for n, item in enumerate(build_mixed(extra))]
    try:
        before = planner.make_plan(gpus, first, sharing, gpu_sharing=gpu_sharing)
    except planner.PlanError:
        return
    assert planner.make_plan(gpus, first, sharing, gpu_sharing=gpu_sharing) == before
    try:
        after = planner.make_plan(gpus, first + more, sharing, gpu_sharing=gpu_sharing)
    except planner.PlanError as exc:
        assert all(p.startswith("workload 'x") for p in exc.problems)
        return
    assert [w['gpus'] for w in after['workloads'][:len(first)]] == [w['gpus'] for w in before['workloads']]
    assert [w['env'] for w in after['workloads'][:len(first)]] == [w['env'] for w in before['workloads']]


@settings(max_examples=300, deadline=None)
@given(specs=workload_specs, extra=workload_specs, sharing=st.sampled_from(['mps', 'time_slicing']))
def test_placements_are_deterministic_and_stable_when_workloads_are_added(specs, extra, sharing):
    gpus = [gpu(0), gpu(1)]
    first = build(specs, sharing)
    more = [dict(item, name='x%d' % n) for n, item in enumerate(build(extra, sharing))]
    try:
        before = planner.make_plan(gpus, first, sharing)
    except planner.PlanError:
        return
    assert planner.make_plan(gpus, first, sharing) == before
    try:
        after = planner.make_plan(gpus, first + more, sharing)
    except planner.PlanError as exc:
        assert all(p.startswith("workload 'x") for p in exc.problems)
        return
    assert [w['gpus'] for w in after['workloads'][:len(first)]] == [w['gpus'] for w in before['workloads']]
