# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kubernetes Deployments / Jobs that carry a sharing plan, built as data.

Plain Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests import k8s_names
from ansible_collections.edge_gpu.sharing.plugins.module_utils.manifests.k8s_names import MANAGED_BY

KINDS = ('Deployment', 'Job')
MPS_VOLUME = 'nvidia-mps'


def check_options(kind, namespace, labels, gpu_resource, runtime_class):
    if kind not in KINDS:
        raise ManifestError('kind must be Deployment or Job, got %r' % (kind,))
    k8s_names.check_namespace(namespace)
    k8s_names.check_labels(labels)
    if gpu_resource is not None and not k8s_names.is_qualified_name(gpu_resource, prefix_required=True):
        raise ManifestError('gpu_resource %r is not an extended resource name such as nvidia.com/gpu' % (gpu_resource,))
    if runtime_class is not None and not k8s_names.is_dns_subdomain(runtime_class):
        raise ManifestError('runtime_class %r is not a valid RuntimeClass name' % (runtime_class,))


def _container(workload, gpu_resource, pipe_directory):
    env = dict(workload['env'])
    if gpu_resource:
        # The device plugin chooses the GPU and sets NVIDIA_VISIBLE_DEVICES itself.
        env.pop('NVIDIA_VISIBLE_DEVICES', None)
    container = {'name': workload['name'], 'image': workload['image']}
    if workload['command']:
        container['command'] = list(workload['command'])
    if workload['args']:
        container['args'] = list(workload['args'])
    container['env'] = [{'name': name, 'value': value} for name, value in env.items()]
    if gpu_resource:
        container['resources'] = {'limits': {gpu_resource: len(workload['gpus'])}}
    if workload['mps']:
        container['volumeMounts'] = [{'name': MPS_VOLUME, 'mountPath': pipe_directory}]
    return container


def workload_objects(plan, kind='Deployment', namespace='default', labels=None, gpu_resource=None, runtime_class=None):
    """One Deployment or Job per planned workload."""
    check_options(kind, namespace, labels, gpu_resource, runtime_class)
    objects = []
    for workload in plan['workloads']:
        selector = {'app.kubernetes.io/name': workload['name']}
        all_labels = dict(selector, **MANAGED_BY)
        all_labels.update(labels or {})
        pod = {'containers': [_container(workload, gpu_resource, plan['mps_pipe_directory'])]}
        if runtime_class:
            pod['runtimeClassName'] = runtime_class
        if workload['mps']:
            # MPS clients reach the control daemon through shared memory and its pipe directory.
            pod['hostIPC'] = True
            pod['volumes'] = [{'name': MPS_VOLUME, 'hostPath': {'path': plan['mps_pipe_directory'], 'type': 'Directory'}}]
        template = {'metadata': {'labels': dict(all_labels)}, 'spec': pod}
        if kind == 'Job':
            pod['restartPolicy'] = 'Never'
            spec = {'backoffLimit': 2, 'template': template}
            api = 'batch/v1'
        else:
            spec = {'replicas': 1, 'selector': {'matchLabels': selector}, 'template': template}
            api = 'apps/v1'
        objects.append({
            'apiVersion': api,
            'kind': kind,
            'metadata': {'name': workload['name'], 'namespace': namespace, 'labels': all_labels},
            'spec': spec,
        })
    return objects
