# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kubernetes' naming rules and the collection's own labels, in one place.

Plain Python, no Ansible imports. The rules are Kubernetes' (apimachinery's validation):
DNS-1123 labels (63) and subdomains (253), qualified names (label keys, extended resources),
label values and ConfigMap keys.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.edge_gpu.sharing.plugins.module_utils.errors import ManifestError

MANAGED_BY_KEY = 'app.kubernetes.io/managed-by'
MANAGED_BY_VALUE = 'edge_gpu.sharing'
MANAGED_BY = {MANAGED_BY_KEY: MANAGED_BY_VALUE}

_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_DNS_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')
_NAME_PART = re.compile(r'^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')
_CONFIGMAP_KEY = re.compile(r'^[-._a-zA-Z0-9]+$')


def is_dns_label(value):
    """Namespaces, Service and container names, workload names: at most 63."""
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_dns_subdomain(value):
    """Most object names (ConfigMaps, Deployments, RuntimeClasses): at most 253."""
    return isinstance(value, str) and len(value) <= 253 and bool(_DNS_SUBDOMAIN.match(value))


def is_qualified_name(value, prefix_required=False):
    """``[prefix/]name`` as label keys and extended resource names are written."""
    if not isinstance(value, str):
        return False
    prefix, slash, name = value.rpartition('/')
    if prefix_required and not slash:
        return False
    if slash and not is_dns_subdomain(prefix):
        return False
    return len(name) <= 63 and bool(_NAME_PART.match(name))


def is_label_value(value):
    return isinstance(value, str) and len(value) <= 63 and (value == '' or bool(_NAME_PART.match(value)))


def is_configmap_key(value):
    return isinstance(value, str) and len(value) <= 253 and bool(_CONFIGMAP_KEY.match(value))


def check_labels(labels, option='labels'):
    for key, value in (labels or {}).items():
        if not is_qualified_name(key):
            raise ManifestError('%s: %r is not a valid label key' % (option, key))
        if not is_label_value(value):
            raise ManifestError('%s: %r is not a valid value for label %s' % (option, value, key))


def check_namespace(value, option='namespace'):
    if not is_dns_label(value):
        raise ManifestError('%s %r is not a valid Kubernetes namespace name' % (option, value))


def check_object_name(value, option):
    if not is_dns_subdomain(value):
        raise ManifestError('%s %r is not a valid Kubernetes object name' % (option, value))
