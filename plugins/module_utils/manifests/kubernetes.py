# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kubernetes Deployments / Jobs that carry a sharing plan, built as data.

Plain Python, no Ansible imports. Each workload's own settings (``host_pid``, ``node_selector``,
``tolerations``, ``resources``, ...) are checked here against Kubernetes' rules and placed in
the pod; the GPU limit and the plan's environment are never dropped for them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import dra, k8s_names
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.k8s_names import MANAGED_BY

KINDS = ('Deployment', 'Job')
MPS_VOLUME = 'nvidia-mps'
JOB_BACKOFF_LIMIT = 2
JOB_RESTART_POLICIES = ('Never', 'OnFailure')
IMAGE_PULL_POLICIES = ('Always', 'IfNotPresent', 'Never')
TOLERATION_KEYS = ('key', 'operator', 'value', 'effect', 'tolerationSeconds')
TOLERATION_OPERATORS = ('Exists', 'Equal')
TAINT_EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')
RESOURCE_SECTIONS = ('requests', 'limits')
# core/v1 SecurityContext (a container's, not the pod's).
SECURITY_CONTEXT_KEYS = (
    'allowPrivilegeEscalation', 'appArmorProfile', 'capabilities', 'privileged', 'procMount',
    'readOnlyRootFilesystem', 'runAsGroup', 'runAsNonRoot', 'runAsUser', 'seLinuxOptions', 'seccompProfile',
    'windowsOptions')
# Settings the IoT Edge manifest takes and Kubernetes objects have no place for.
IOTEDGE_ONLY = ('create_options',)
# resource.Quantity: a decimal number with an optional binary (Ki...) or decimal (m, k, M...) suffix or exponent.
_QUANTITY = re.compile(r'^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$')


def check_options(kind, namespace, labels, gpu_resource, runtime_class, allocation='device_plugin'):
    dra.check_allocation(allocation)
    if allocation == 'dra' and gpu_resource is not None:
        raise ManifestError('gpu_resource %r asks a device plugin for GPUs, but allocation is dra (the pods name '
                            'ResourceClaims instead); leave gpu_resource out' % (gpu_resource,))
    if kind not in KINDS:
        raise ManifestError('kind must be Deployment or Job, got %r' % (kind,))
    k8s_names.check_namespace(namespace)
    k8s_names.check_labels(labels)
    if gpu_resource is not None and not k8s_names.is_qualified_name(gpu_resource, prefix_required=True):
        raise ManifestError('gpu_resource %r is not an extended resource name such as nvidia.com/gpu' % (gpu_resource,))
    if runtime_class is not None and not k8s_names.is_dns_subdomain(runtime_class):
        raise ManifestError('runtime_class %r is not a valid RuntimeClass name' % (runtime_class,))


def _check_pin(workload, plan, gpu_resource):
    """A pin cannot survive a device plugin that chooses the GPU, unless there is only one to choose."""
    pin = workload.get('gpu')
    if not gpu_resource or not isinstance(pin, int) or len(plan['gpus']) < 2:
        return
    gpu = [entry for entry in plan['gpus'] if entry['index'] == pin][0]
    # The NVIDIA device plugin allocates the GPU behind gpu_resource and passes it to the
    # container itself (NVIDIA_VISIBLE_DEVICES, or a volume-mount device list); configured as
    # NVIDIA recommends (accept-nvidia-visible-devices-envvar-when-unprivileged = false) the
    # container toolkit ignores a pod's own NVIDIA_VISIBLE_DEVICES. A pod cannot name the GPU.
    raise ManifestError(
        "workload %r is pinned to GPU %d (%s), but with gpu_resource %s the NVIDIA device plugin chooses which "
        "GPU the pod gets and a pod's own NVIDIA_VISIBLE_DEVICES is overridden or ignored, so the pin cannot be "
        "kept: drop the workload's gpu, or leave gpu_resource out to select GPUs by environment"
        % (workload['name'], gpu['index'], gpu['uuid'], gpu_resource))


def _quantity(value):
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
        isinstance(value, str) and bool(_QUANTITY.match(value)))


def _resources(who, given, gpu_resource, gpu_count):
    """The container's resources: the workload's own, plus the GPU limit, which they may not touch."""
    resources = {}
    if given is not None:
        unknown = sorted(set(given) - set(RESOURCE_SECTIONS))
        if unknown:
            raise ManifestError('%s: resources may have requests and limits, not %s' % (who, ', '.join(map(str, unknown))))
        for section in RESOURCE_SECTIONS:
            entries = given.get(section)
            if entries is None:
                continue
            if not isinstance(entries, dict):
                raise ManifestError('%s: resources.%s must be a dictionary of resource name to quantity, got %r'
                                    % (who, section, entries))
            for name, value in entries.items():
                if not k8s_names.is_qualified_name(name):
                    raise ManifestError('%s: resources.%s: %r is not a resource name' % (who, section, name))
                if name == gpu_resource or (isinstance(name, str) and name.startswith('nvidia.com/')):
                    raise ManifestError('%s: resources.%s.%s: GPUs are requested through the plan (gpu_resource and '
                                        'the workload\'s gpu), not in resources' % (who, section, name))
                if not _quantity(value):
                    raise ManifestError('%s: resources.%s.%s: %r is not a quantity such as 500m, 2 or 1Gi'
                                        % (who, section, name, value))
            resources[section] = dict(entries)
    if gpu_resource and gpu_count:
        resources.setdefault('limits', {})[gpu_resource] = gpu_count
    return resources


def _tolerations(who, tolerations):
    checked = []
    for item in tolerations:
        if not isinstance(item, dict):
            raise ManifestError('%s: tolerations: %r is not a dictionary' % (who, item))
        unknown = sorted(set(item) - set(TOLERATION_KEYS))
        if unknown:
            raise ManifestError('%s: tolerations: unknown keys %s (Kubernetes spells them %s)'
                                % (who, ', '.join(map(str, unknown)), ', '.join(TOLERATION_KEYS)))
        operator = item.get('operator', 'Equal')
        if operator not in TOLERATION_OPERATORS:
            raise ManifestError('%s: tolerations: operator %r must be Exists or Equal' % (who, operator))
        if item.get('key') not in (None, '') and not k8s_names.is_qualified_name(item['key']):
            raise ManifestError('%s: tolerations: %r is not a valid taint key' % (who, item['key']))
        if item.get('key') in (None, '') and operator != 'Exists':
            raise ManifestError('%s: tolerations: a toleration without a key must have operator Exists' % who)
        if operator == 'Exists' and item.get('value') not in (None, ''):
            raise ManifestError('%s: tolerations: operator Exists takes no value, got %r' % (who, item['value']))
        if item.get('value') is not None and not k8s_names.is_label_value(item['value']):
            raise ManifestError('%s: tolerations: %r is not a valid taint value' % (who, item['value']))
        if item.get('effect') not in (None, '') + TAINT_EFFECTS:
            raise ManifestError('%s: tolerations: effect %r must be one of %s' % (who, item['effect'], ', '.join(TAINT_EFFECTS)))
        seconds = item.get('tolerationSeconds')
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)
                                    or item.get('effect') != 'NoExecute'):
            raise ManifestError('%s: tolerations: tolerationSeconds must be a whole number and goes with effect '
                                'NoExecute only, got %r' % (who, seconds))
        checked.append(dict(item))
    return checked


def _security_context(who, context):
    unknown = sorted(set(context) - set(SECURITY_CONTEXT_KEYS))
    if unknown:
        raise ManifestError('%s: security_context: unknown keys %s (a container securityContext has %s)'
                            % (who, ', '.join(map(str, unknown)), ', '.join(SECURITY_CONTEXT_KEYS)))
    for key in ('allowPrivilegeEscalation', 'privileged', 'readOnlyRootFilesystem', 'runAsNonRoot'):
        if key in context and not isinstance(context[key], bool):
            raise ManifestError('%s: security_context.%s must be true or false, got %r' % (who, key, context[key]))
    for key in ('runAsUser', 'runAsGroup'):
        if key in context and (isinstance(context[key], bool) or not isinstance(context[key], int) or context[key] < 0):
            raise ManifestError('%s: security_context.%s must be a user or group id, got %r' % (who, key, context[key]))
    return copy.deepcopy(context)


def _check_settings(who, settings, kind):
    for key in IOTEDGE_ONLY:
        if key in settings:
            raise ManifestError('%s: %s applies to IoT Edge modules only, not to Kubernetes objects' % (who, key))
    if kind != 'Job':
        for key in ('restart_policy', 'backoff_limit'):
            if key in settings:
                raise ManifestError('%s: %s applies to Jobs only (a Deployment\'s pods always restart); kind is %s'
                                    % (who, key, kind))
    if settings.get('restart_policy', 'Never') not in JOB_RESTART_POLICIES:
        raise ManifestError('%s: restart_policy %r must be Never or OnFailure for a Job' % (who, settings['restart_policy']))
    if settings.get('image_pull_policy', 'Always') not in IMAGE_PULL_POLICIES:
        raise ManifestError('%s: image_pull_policy %r must be one of %s'
                            % (who, settings['image_pull_policy'], ', '.join(IMAGE_PULL_POLICIES)))
    if 'node_selector' in settings:
        k8s_names.check_labels(settings['node_selector'], option='%s: node_selector' % who)
    for name in settings.get('image_pull_secrets', []):
        if not k8s_names.is_dns_subdomain(name):
            raise ManifestError('%s: image_pull_secrets: %r is not a valid Secret name' % (who, name))


def _container(workload, gpu_resource, pipe_directory, claim=None):
    who = 'workload %r' % (workload['name'],)
    settings = workload.get('settings') or {}
    env = dict(workload['env'])
    if gpu_resource and workload['gpus']:
        # The device plugin chooses the GPU and sets NVIDIA_VISIBLE_DEVICES itself.
        env.pop('NVIDIA_VISIBLE_DEVICES', None)
    if claim is not None:
        # The DRA driver gives the container the claim's GPUs and, for MPS, its own daemon's pipe
        # directory; only the MPS limits a client sets below its claim's defaults stay.
        for name in dra.REPLACED_VARIABLES:
            env.pop(name, None)
        env.update(claim['env'])
    container = {'name': workload['name'], 'image': workload['image']}
    if 'image_pull_policy' in settings:
        container['imagePullPolicy'] = settings['image_pull_policy']
    if workload['command']:
        container['command'] = list(workload['command'])
    if workload['args']:
        container['args'] = list(workload['args'])
    if env or claim is None:
        container['env'] = [{'name': name, 'value': value} for name, value in env.items()]
    resources = _resources(who, settings.get('resources'), gpu_resource, len(workload['gpus']))
    if claim is not None:
        resources['claims'] = [{'name': dra.POD_CLAIM, 'request': dra.REQUEST}]
    if resources:
        container['resources'] = resources
    if workload['mps'] and claim is None:
        container['volumeMounts'] = [{'name': MPS_VOLUME, 'mountPath': pipe_directory}]
    if 'security_context' in settings:
        container['securityContext'] = _security_context(who, settings['security_context'])
    return container


def workload_objects(plan, kind='Deployment', namespace='default', labels=None, gpu_resource=None, runtime_class=None,
                     allocation='device_plugin', time_slice_interval='Default'):
    """One Deployment or Job per planned workload; with ``allocation='dra'`` first the
    ResourceClaims / ResourceClaimTemplates they name (``dra.claims``)."""
    check_options(kind, namespace, labels, gpu_resource, runtime_class, allocation)
    objects, references = [], {}
    if allocation == 'dra':
        objects, references = dra.claims(plan, namespace, labels, time_slice_interval)
    for workload in plan['workloads']:
        who = 'workload %r' % (workload['name'],)
        settings = workload.get('settings') or {}
        _check_settings(who, settings, kind)
        _check_pin(workload, plan, gpu_resource)
        selector = {'app.kubernetes.io/name': workload['name']}
        all_labels = dict(selector, **MANAGED_BY)
        all_labels.update(labels or {})
        claim = references.get(workload['name'])
        pod = {'containers': [_container(workload, gpu_resource, plan['mps_pipe_directory'], claim)]}
        if claim is not None:
            pod['resourceClaims'] = [dict(claim['claim'], name=dra.POD_CLAIM)]
        if runtime_class:
            pod['runtimeClassName'] = runtime_class
        if workload['mps'] and claim is None:
            # MPS clients reach the control daemon through shared memory and its pipe directory.
            pod['hostIPC'] = True
            pod['volumes'] = [{'name': MPS_VOLUME, 'hostPath': {'path': plan['mps_pipe_directory'], 'type': 'Directory'}}]
        if settings.get('host_pid'):
            pod['hostPID'] = True
        if 'node_selector' in settings:
            pod['nodeSelector'] = dict(settings['node_selector'])
        if 'tolerations' in settings:
            pod['tolerations'] = _tolerations(who, settings['tolerations'])
        if 'image_pull_secrets' in settings:
            pod['imagePullSecrets'] = [{'name': name} for name in settings['image_pull_secrets']]
        template = {'metadata': {'labels': dict(all_labels)}, 'spec': pod}
        if kind == 'Job':
            pod['restartPolicy'] = settings.get('restart_policy', 'Never')
            spec = {'backoffLimit': settings.get('backoff_limit', JOB_BACKOFF_LIMIT), 'template': template}
            api = 'batch/v1'
        else:
            spec = {'replicas': 1, 'selector': {'matchLabels': selector}, 'template': template}
            if claim is not None:
                # A claim pins its GPU, which is in one claim at a time: a rolling update's surge
                # pod (a new claim from the template, or the claim of a changed plan) would wait for
                # the old pod's GPU forever while the old pod waits for it to become ready.
                spec['strategy'] = {'type': 'Recreate'}
            api = 'apps/v1'
        objects.append({
            'apiVersion': api,
            'kind': kind,
            'metadata': {'name': workload['name'], 'namespace': namespace, 'labels': all_labels},
            'spec': spec,
        })
    return objects
