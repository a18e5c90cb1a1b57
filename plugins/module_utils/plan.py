# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sharing planner: which workload runs on which GPU, with which environment.

Plain Python, no Ansible imports, deterministic. Workloads are placed in the order they
are given, each on the least-loaded GPU it fits on (lowest index on a tie), so the same
input always gives the same plan and appending a workload never moves the others.
Every workload that cannot be placed is reported, with why, in one ``PlanError``.

Each GPU has one sharing strategy (``sharing``, overridden per GPU by ``gpu_sharing``):
``mps`` (every workload on it is an MPS client and gets the MPS variables), ``time_slicing``
(whole-GPU sharing, never a ``CUDA_MPS_*`` variable) or ``none`` (one workload, the whole GPU).
Settings that only the manifests use (``host_pid``, ``tolerations``, ...) are checked for
their type here and carried in each workload's ``settings``; the manifest builders check
what they mean for their platform.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils import gpus as gpu_rules
from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import InvalidOption, PlanError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.k8s_names import is_dns_label
from ansible_collections.edge_gpu.sharing.plugins.module_utils.units import (
    image_reference, memory_text, number_text, parse_bool, parse_memory, parse_percentage, whole_number)

SHARING_MODES = ('mps', 'time_slicing', 'none')
DEVICE_IDS = ('index', 'uuid')
FULL_GPU = 100.0
NO_GPU = 'none'
# NVIDIA Container Toolkit, "GPU Enumeration" (docs.nvidia.com/datacenter/cloud-native/
# container-toolkit, NVIDIA_VISIBLE_DEVICES): "void or empty or unset: nvidia-container-runtime
# will have the same behavior as runc (i.e. neither GPUs nor capabilities are exposed)".
# Unset is not enough: CUDA base images set NVIDIA_VISIBLE_DEVICES=all themselves, so a
# workload without a GPU says ``void`` explicitly.
NO_GPU_VISIBLE_DEVICES = 'void'

# Variables the plan sets; a workload's own env may not override them.
PLAN_VARIABLES = ('NVIDIA_VISIBLE_DEVICES', 'CUDA_VISIBLE_DEVICES', 'CUDA_MPS_PIPE_DIRECTORY',
                  'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE', 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT')

ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# Settings carried to the manifests as given (after a type check); each manifest builder
# refuses the ones its platform does not have.
SETTING_TYPES = (
    ('host_pid', bool), ('restart_policy', str), ('image_pull_policy', str),
    ('node_selector', dict), ('tolerations', list), ('image_pull_secrets', list), ('resources', dict),
    ('security_context', dict), ('backoff_limit', int), ('create_options', dict),
)
SETTING_KEYS = tuple(key for key, _type in SETTING_TYPES)
WORKLOAD_KEYS = ('name', 'image', 'gpu_percentage', 'gpu_memory', 'gpu', 'command', 'args', 'env') + SETTING_KEYS


def _strings(value, field, problems, who):
    """``command`` / ``args``: a list of strings (a single string is one item)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, (str, int, float)) and not isinstance(item, bool)
                                              for item in value):
        problems.append('%s: %s must be a list of strings, got %r' % (who, field, value))
        return None
    return [str(item) for item in value]


def _env(value, problems, who):
    if value is None:
        return {}
    if isinstance(value, list):
        # Kubernetes style: [{name: X, value: Y}]
        try:
            value = dict((item['name'], item.get('value', '')) for item in value)
        except (TypeError, KeyError):
            problems.append('%s: env must be a dictionary or a list of {name, value}, got %r' % (who, value))
            return {}
    if not isinstance(value, dict):
        problems.append('%s: env must be a dictionary, got %r' % (who, value))
        return {}
    env = {}
    for name, text in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            problems.append('%s: %r is not a valid environment variable name' % (who, name))
        elif name in PLAN_VARIABLES:
            problems.append('%s: env %s is set by the sharing plan and cannot be given' % (who, name))
        elif isinstance(text, (dict, list)) or text is None:
            problems.append('%s: env %s must be a string, number or boolean, got %r' % (who, name, text))
        else:
            env[name] = ('true' if text else 'false') if isinstance(text, bool) else str(text)
    return env


def _settings(workload, problems, who):
    """The pass-through settings a workload gives, type-checked; unset ones are left out."""
    settings = {}
    for key, kind in SETTING_TYPES:
        value = workload.get(key)
        if value is None:
            continue
        if kind is bool:
            try:
                value = parse_bool(value, key)
            except InvalidOption as exc:
                problems.append('%s: %s' % (who, exc))
                continue
        elif kind is int:
            try:
                value = whole_number(value, key)
            except InvalidOption as exc:
                problems.append('%s: %s' % (who, exc))
                continue
        elif not isinstance(value, kind):
            problems.append('%s: %s must be a %s, got %r' % (
                who, key, {str: 'string', dict: 'dictionary', list: 'list'}[kind], value))
            continue
        settings[key] = value
    return settings


class _Gpu(object):
    def __init__(self, info, reserved, sharing):
        self.info = info
        self.sharing = sharing
        self.index = info['index']
        self.uuid = info['uuid']
        self.reserved = reserved
        self.mig = gpu_rules.mig_enabled(info)
        self.memory_total = (info.get('memory') or {}).get('total')
        self.percentage = 0.0
        self.memory = 0
        self.clients = 0
        self.workloads = []

    @property
    def usable(self):
        return not self.reserved and not self.mig

    def why_unusable(self):
        return '%s is %s' % (gpu_rules.label(self.info), 'reserved for VMs' if self.reserved else 'MIG-enabled')

    def described(self):
        """``GPU 1 (GPU-...), shared by time_slicing`` for messages about strategies."""
        return '%s (sharing %s)' % (gpu_rules.label(self.info), self.sharing)


def gpu_strategies(gpu_sharing, gpus, option='gpu_sharing'):
    """``{index: strategy}`` from a per-GPU map (keys are GPU indexes or UUIDs); ``PlanError``
    names every key that is malformed, matches no GPU or names a GPU twice, and every bad strategy."""
    if gpu_sharing is None:
        return {}
    if not isinstance(gpu_sharing, dict):
        raise PlanError(['%s must be a dictionary of GPU (index or UUID) to mps, time_slicing or none, '
                         'got %r' % (option, gpu_sharing)])
    strategies, problems = {}, []
    for key, strategy in sorted(gpu_sharing.items(), key=lambda item: str(item[0])):
        if strategy not in SHARING_MODES:
            problems.append('%s: GPU %s: sharing must be mps, time_slicing or none, got %r' % (option, key, strategy))
            continue
        try:
            selector = gpu_rules.parse_selector(key, option)
        except InvalidOption as exc:
            problems.append(str(exc))
            continue
        gpu = gpu_rules.find(gpus, selector)
        if gpu is None:
            problems.append('%s: no GPU matches %s; this host has %s' % (
                option, key, gpu_rules.labels(sorted(gpus, key=lambda g: g['index'])) or 'no GPUs'))
        elif strategies.get(gpu['index'], strategy) != strategy:
            problems.append('%s names %s twice, as %s and as %s' % (
                option, gpu_rules.label(gpu), strategies[gpu['index']], strategy))
        else:
            strategies[gpu['index']] = strategy
    if problems:
        raise PlanError(problems)
    return strategies


class _Planner(object):
    def __init__(self, gpus, sharing, reserved_gpus, oversubscribe, mps_pipe_directory, device_ids, gpu_sharing=None):
        self.problems = []
        if sharing not in SHARING_MODES:
            raise PlanError(['sharing must be mps, time_slicing or none, got %r' % (sharing,)])
        if device_ids not in DEVICE_IDS:
            raise PlanError(['device_ids must be index or uuid, got %r' % (device_ids,)])
        if not isinstance(gpus, list) or not all(isinstance(gpu, dict) and 'index' in gpu and 'uuid' in gpu for gpu in gpus):
            raise PlanError(['gpus must be the GPU list edge_gpu.sharing.gpu_info returns, got %r' % (gpus,)])
        strategies = gpu_strategies(gpu_sharing, gpus)
        try:
            self.oversubscribe = parse_bool(oversubscribe, 'oversubscribe')
            if sharing == 'mps' or 'mps' in strategies.values():
                gpu_rules.check_pipe_directory(mps_pipe_directory, 'mps_pipe_directory')
        except InvalidOption as exc:
            raise PlanError([str(exc)])
        self.sharing = sharing
        self.pipe = mps_pipe_directory
        self.device_ids = device_ids
        reserved = self._reserved(reserved_gpus, gpus)
        self.gpus = [_Gpu(gpu, gpu['index'] in reserved, strategies.get(gpu['index'], sharing))
                     for gpu in sorted(gpus, key=lambda g: g['index'])]
        self.any_mps = any(gpu.sharing == 'mps' for gpu in self.gpus)
        self.client_limit = gpu_rules.mps_client_limit(gpus)

    def _reserved(self, reserved_gpus, gpus):
        try:
            selectors = gpu_rules.parse_selectors(reserved_gpus, 'reserved_gpus')
        except InvalidOption as exc:
            raise PlanError([str(exc)])
        indexes = set()
        for selector in selectors:
            gpu = gpu_rules.find(gpus, selector)
            if gpu is None:
                raise PlanError(['reserved_gpus: no GPU matches %s' % selector])
            indexes.add(gpu['index'])
        return indexes

    # ---- one workload ------------------------------------------------------------------

    def _parse(self, workload, seen):
        if not isinstance(workload, dict):
            self.problems.append('workload %r must be a dictionary' % (workload,))
            return None
        name = workload.get('name')
        who = 'workload %r' % (name,)
        if not is_dns_label(name):
            self.problems.append('%s: the name must be a DNS-1123 label (lower-case letters, digits and -, '
                                 'at most 63, starting and ending with a letter or digit)' % who)
            return None
        if name in seen:
            self.problems.append('%s: the name is used twice' % who)
            return None
        seen.add(name)
        unknown = sorted(set(workload) - set(WORKLOAD_KEYS))
        if unknown:
            self.problems.append('%s: unknown keys %s' % (who, ', '.join(unknown)))
        image = workload.get('image')
        try:
            image_reference(image, 'image')
        except InvalidOption as exc:
            self.problems.append('%s: %s' % (who, exc))
        parsed = {'name': name, 'image': image, 'who': who, 'percentage': None, 'memory': None, 'pin': None,
                  'command': _strings(workload.get('command'), 'command', self.problems, who),
                  'args': _strings(workload.get('args'), 'args', self.problems, who),
                  'env': _env(workload.get('env'), self.problems, who),
                  'settings': _settings(workload, self.problems, who)}
        if workload.get('gpu_percentage') is not None:
            if not self.any_mps:
                self.problems.append('%s: gpu_percentage %r asks for a fraction of a GPU, but time-sliced GPUs are '
                                     'shared whole (use sharing: mps, or gpu_sharing for the GPUs MPS serves, for '
                                     'per-workload percentages)' % (who, workload['gpu_percentage']))
            else:
                try:
                    parsed['percentage'] = parse_percentage(workload['gpu_percentage'], 'gpu_percentage')
                except InvalidOption as exc:
                    self.problems.append('%s: %s' % (who, exc))
        if workload.get('gpu_memory') is not None:
            try:
                parsed['memory'] = parse_memory(workload['gpu_memory'], 'gpu_memory')
            except InvalidOption as exc:
                self.problems.append('%s: %s' % (who, exc))
        pin = workload.get('gpu')
        if pin == NO_GPU:
            parsed['pin'] = NO_GPU
            for key in ('gpu_percentage', 'gpu_memory'):
                if workload.get(key) is not None:
                    self.problems.append('%s: %s %r asks for GPU resources, but gpu is none (the workload uses no GPU)'
                                         % (who, key, workload[key]))
        elif pin is not None and pin != 'all':
            try:
                selector = gpu_rules.parse_selector(pin, 'gpu')
            except InvalidOption as exc:
                self.problems.append('%s: %s (or all, or none for no GPU)' % (who, exc))
                return parsed
            gpu = gpu_rules.find([g.info for g in self.gpus], selector)
            if gpu is None:
                self.problems.append('%s: gpu %s does not exist on this device' % (who, pin))
                return parsed
            parsed['pin'] = gpu['index']
        elif pin == 'all':
            parsed['pin'] = 'all'
        return parsed

    @staticmethod
    def _share(gpu, workload):
        """The percentage a workload takes of ``gpu`` (all of it when not limited; none unless MPS)."""
        if gpu.sharing == 'mps':
            return workload['percentage'] if workload['percentage'] is not None else FULL_GPU
        return 0.0

    def _misfit(self, gpu, workload):
        """Why ``workload`` does not fit on ``gpu`` any more, or ``None``."""
        if workload['percentage'] is not None and gpu.sharing != 'mps':
            return ('gpu_percentage %s needs an MPS GPU, but %s: only MPS enforces a share of the SMs'
                    % (number_text(workload['percentage']), gpu.described()))
        if gpu.sharing == 'none' and gpu.workloads:
            return '%s is not shared and already runs %s' % (gpu.described(), ', '.join(gpu.workloads))
        share = self._share(gpu, workload)
        if gpu.sharing == 'mps' and gpu.percentage + share > FULL_GPU and not self.oversubscribe:
            return '%s would be at %s %% of its SMs (%s %% taken); set oversubscribe: true to allow it' % (
                gpu_rules.label(gpu.info), number_text(gpu.percentage + share), number_text(gpu.percentage))
        if workload['memory'] and gpu.memory_total is not None and gpu.memory + workload['memory'] > gpu.memory_total:
            return '%s has %s of memory, %s already planned, %s asked' % (
                gpu_rules.label(gpu.info), memory_text(gpu.memory_total), memory_text(gpu.memory) if gpu.memory else 'none',
                memory_text(workload['memory']))
        if gpu.sharing == 'mps' and gpu.clients + 1 > self.client_limit:
            return '%s already serves %d MPS clients, the most it can' % (gpu_rules.label(gpu.info), gpu.clients)
        return None

    @staticmethod
    def _load(workload, gpus):
        """The order in which an unpinned workload tries ``gpus``: least loaded first, lowest index on a tie.

        On a device whose GPUs all share one way this is the load of that strategy alone (MPS: SM
        percentage, then clients; otherwise clients, then memory). On a mixed device a workload
        without a percentage tries time-sliced GPUs first, then MPS GPUs (where it takes every SM),
        then GPUs that are not shared, so that it does not use up a GPU another workload needs whole.
        """
        rank = {'time_slicing': 0, 'mps': 1, 'none': 2}

        def key(gpu):
            load = (gpu.percentage, gpu.clients, gpu.index) if gpu.sharing == 'mps' else \
                (gpu.clients, gpu.memory, gpu.index)
            return (rank[gpu.sharing],) + load
        return sorted(gpus, key=key)

    def _place(self, workload):
        if workload['pin'] == NO_GPU:
            return [], None
        usable = [gpu for gpu in self.gpus if gpu.usable]
        if workload['pin'] == 'all':
            if any(gpu.reserved or gpu.mig for gpu in self.gpus) and len(usable) > 1:
                return None, ('gpu all would mean %s, but a workload gets one GPU or all of them, never several '
                              'specific ones' % gpu_rules.labels(gpu.info for gpu in usable))
            if len(set(gpu.sharing for gpu in usable)) > 1:
                return None, ('gpu all would span GPUs that are shared differently (%s); a workload on every GPU '
                              'needs them all shared the same way (sharing / gpu_sharing)'
                              % ', '.join(gpu.described() for gpu in usable))
            targets = usable
        elif workload['pin'] is not None:
            gpu = self.gpus[[g.index for g in self.gpus].index(workload['pin'])]
            if not gpu.usable:
                return None, 'pinned to %s' % gpu.why_unusable()
            targets = [gpu]
        else:
            candidates = usable
            if workload['percentage'] is not None:
                candidates = [gpu for gpu in usable if gpu.sharing == 'mps']
                if usable and not candidates:
                    return None, ('gpu_percentage %s needs an MPS GPU, but no usable GPU is one: %s'
                                  % (number_text(workload['percentage']), ', '.join(g.described() for g in usable)))
            reasons = []
            for gpu in self._load(workload, candidates):
                reason = self._misfit(gpu, workload)
                if reason is None:
                    return [gpu], None
                reasons.append(reason)
            if not usable:
                return None, 'no GPU can take it: %s' % (
                    ', '.join(gpu.why_unusable() for gpu in self.gpus) or 'the device has no GPU')
            return None, 'does not fit on any GPU: ' + '; '.join(reasons)
        if not targets:
            return None, 'no GPU can take it: the device has no usable GPU'
        reasons = [reason for reason in (self._misfit(gpu, workload) for gpu in targets) if reason]
        if reasons:
            return None, 'does not fit: ' + '; '.join(reasons)
        return targets, None

    def _environment(self, workload, targets):
        if not targets:
            env = {'NVIDIA_VISIBLE_DEVICES': NO_GPU_VISIBLE_DEVICES}
            env.update(workload['env'])
            return env
        if workload['pin'] == 'all' and len(targets) == len(self.gpus):
            visible = 'all'
        else:
            visible = str(targets[0].index) if self.device_ids == 'index' else targets[0].uuid
        env = {'NVIDIA_VISIBLE_DEVICES': visible}
        # Only MPS GPUs give CUDA_MPS_* variables: in exclusive_process mode every CUDA client of
        # an MPS GPU must go through the daemon, and a client of any other GPU must not try to.
        if targets[0].sharing == 'mps':
            env['CUDA_MPS_PIPE_DIRECTORY'] = self.pipe
            if workload['percentage'] is not None:
                env['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] = number_text(workload['percentage'])
            if workload['memory']:
                # Inside the container the GPUs it sees are numbered from 0.
                env['CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'] = ','.join(
                    '%d=%s' % (ordinal, memory_text(workload['memory'], exact=True)) for ordinal in range(len(targets)))
        env.update(workload['env'])
        return env

    def plan(self, workloads):
        if not isinstance(workloads, list):
            raise PlanError(['workloads must be a list, got %r' % (workloads,)])
        seen, placed, valid = set(), [], []
        for workload in workloads:
            before = len(self.problems)
            parsed = self._parse(workload, seen)
            # A workload with bad input is reported and left out; the others are still placed,
            # so that one error lists every workload that cannot run.
            if parsed is not None and len(self.problems) == before:
                valid.append(parsed)
        for workload in valid:
            targets, reason = self._place(workload)
            if reason:
                self.problems.append('%s: %s' % (workload['who'], reason))
                continue
            for gpu in targets:
                gpu.percentage += self._share(gpu, workload)
                gpu.memory += workload['memory'] or 0
                gpu.clients += 1
                gpu.workloads.append(workload['name'])
            mps = bool(targets) and targets[0].sharing == 'mps'
            placed.append({
                'name': workload['name'],
                'image': workload['image'],
                'gpu': workload['pin'],
                'gpus': [gpu.index for gpu in targets],
                'gpu_uuids': [gpu.uuid for gpu in targets],
                'sharing': targets[0].sharing if targets else None,
                'mps': mps,
                'gpu_percentage': workload['percentage'],
                'gpu_memory': workload['memory'],
                'command': workload['command'],
                'args': workload['args'],
                'env': self._environment(workload, targets),
                'settings': workload['settings'],
            })
        if self.problems:
            raise PlanError(self.problems)
        return {
            'sharing': self.sharing,
            'oversubscribe': self.oversubscribe,
            'mps_pipe_directory': self.pipe if self.any_mps else None,
            'workloads': placed,
            'gpus': [{
                'index': gpu.index, 'uuid': gpu.uuid, 'name': gpu.info.get('name'),
                'reserved': gpu.reserved, 'mig': gpu.mig, 'sharing': gpu.sharing,
                'percentage': gpu.percentage if gpu.sharing == 'mps' else None,
                'memory': gpu.memory, 'memory_total': gpu.memory_total,
                'clients': gpu.clients, 'workloads': gpu.workloads,
            } for gpu in self.gpus],
        }


def make_plan(gpus, workloads, sharing='time_slicing', reserved_gpus=None, oversubscribe=False,
              mps_pipe_directory=gpu_rules.DEFAULT_PIPE_DIRECTORY, device_ids='index', gpu_sharing=None):
    """Place ``workloads`` on ``gpus`` (``gpu_info``'s list); returns the plan or raises ``PlanError``.

    ``sharing`` is every GPU's strategy unless ``gpu_sharing`` (GPU index or UUID to strategy) says
    otherwise for that GPU.
    """
    return _Planner(gpus, sharing, reserved_gpus, oversubscribe, mps_pipe_directory, device_ids,
                    gpu_sharing).plan(workloads)


# The options every module that takes a plan accepts (see doc_fragments/planning.py).
# COMMON_ARGUMENT_SPEC: what gpu_sharing shares with them (doc_fragments/planning.py, COMMON).
COMMON_ARGUMENT_SPEC = dict(
    reserved_gpus=dict(type='list', elements='raw', default=[]),
    oversubscribe=dict(type='bool', default=False),
    mps_pipe_directory=dict(type='path', default=gpu_rules.DEFAULT_PIPE_DIRECTORY),
    device_ids=dict(type='str', choices=list(DEVICE_IDS), default='index'),
    workloads=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        image=dict(type='str', required=True),
        gpu_percentage=dict(type='raw'),
        gpu_memory=dict(type='str'),
        gpu=dict(type='raw'),
        command=dict(type='list', elements='str'),
        args=dict(type='list', elements='str'),
        env=dict(type='dict'),
        host_pid=dict(type='bool'),
        restart_policy=dict(type='str'),
        image_pull_policy=dict(type='str'),
        node_selector=dict(type='dict'),
        tolerations=dict(type='list', elements='dict'),
        image_pull_secrets=dict(type='list', elements='str', no_log=False),
        resources=dict(type='dict'),
        security_context=dict(type='dict'),
        backoff_limit=dict(type='int'),
        create_options=dict(type='dict'),
    )),
)
PLANNING_ARGUMENT_SPEC = dict(
    COMMON_ARGUMENT_SPEC,
    gpus=dict(type='list', elements='dict', required=True),
    sharing=dict(type='str', choices=list(SHARING_MODES), default='time_slicing'),
    gpu_sharing=dict(type='dict'),
)


def workloads_from_params(workloads):
    """The workloads as an argument spec delivers them, without the keys left unset."""
    return [dict((key, value) for key, value in workload.items() if value is not None) for workload in workloads]


def plan_from_params(params):
    """``make_plan`` with a module's planning options; unset workload keys are dropped."""
    return make_plan(params['gpus'], workloads_from_params(params['workloads']), params['sharing'], params['reserved_gpus'], params['oversubscribe'],
                     params['mps_pipe_directory'], params['device_ids'], params.get('gpu_sharing'))
