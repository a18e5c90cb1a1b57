# -*- coding: utf-8 -*-
# Copyright (c) 2026, edge_gpu.sharing contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AWX surveys (playbooks/awx/surveys/*.yml) cannot drift from the roles and playbooks.

Every survey question's variable is either an option of a role's meta/argument_specs.yml, with
the same type and the same choices, or in the documented allow-list
(playbooks/awx/survey_variables.yml: meaning, type, the playbooks that read it). Either way the
playbook of each job template that asks it must read it (a role variable through the role it
includes, an allow-listed one in a template expression). Each survey is also a valid AWX
survey_spec, so the controller accepts it as it is.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(ROOT, 'playbooks')
SURVEYS = os.path.join(PLAYBOOKS, 'awx', 'surveys')
ALLOW_LIST = os.path.join(PLAYBOOKS, 'awx', 'survey_variables.yml')
AWX_SETUP = os.path.join(PLAYBOOKS, 'awx_setup.yml')
DOC = os.path.join(ROOT, 'docs', 'awx.md')
CREDENTIAL_TYPE = os.path.join(PLAYBOOKS, 'awx', 'credential_types', 'iothub.yml')

# What AWX's survey_spec accepts (the controller's API documentation of survey_spec).
QUESTION_KEYS = {'question_name', 'question_description', 'variable', 'type', 'choices', 'default',
                 'required', 'min', 'max', 'new_question'}
# Survey question type -> the argument spec types an answer of that type is valid for. AWX sends
# text and multiple choice answers as strings, integer answers as integers.
COMPATIBLE = {
    'text': {'str', 'path'},
    'textarea': {'str', 'path'},
    'password': {'str'},
    'integer': {'int'},
    'float': {'float'},
    'multiplechoice': {'str', 'bool'},
}
BOOL_CHOICES = {'true', 'false'}


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def role_options():
    """``{variable: (role, option spec)}`` over every role's entry points."""
    options = {}
    roles = os.path.join(ROOT, 'roles')
    for role in sorted(os.listdir(roles)):
        path = os.path.join(roles, role, 'meta', 'argument_specs.yml')
        if not os.path.isfile(path):
            continue
        for entry in load(path)['argument_specs'].values():
            for name, spec in (entry.get('options') or {}).items():
                options[name] = (role, spec)
    return options


def job_templates():
    """``[(template key, survey file, playbook file name)]`` as awx_setup.yml defines them."""
    play = load(AWX_SETUP)[0]
    found = []
    for template in play['vars']['__awx_setup_templates']:
        default = re.search(r"default\('([^']+)'\)", template['playbook'])
        assert default, template['playbook']
        found.append((template['key'], template['survey'], os.path.basename(default.group(1))))
    return found


def playbook_code(name):
    """A playbook's text without its comment lines (which may name a variable it does not read)."""
    with open(os.path.join(PLAYBOOKS, name)) as handle:
        return '\n'.join(line for line in handle.read().splitlines() if not line.lstrip().startswith('#'))


def reads(code, variable):
    """Whether a playbook's template expressions use ``variable``."""
    return any(re.search(r'\b%s\b' % re.escape(variable), expr)
               for expr in re.findall(r'\{\{(.*?)\}\}', code, re.S))


TEMPLATES = job_templates()
SURVEY_FILES = sorted(name for name in os.listdir(SURVEYS) if name.endswith('.yml'))
ALLOWED = load(ALLOW_LIST)
OPTIONS = role_options()


def questions(survey_file):
    return load(os.path.join(SURVEYS, survey_file))['spec']


def test_every_survey_file_belongs_to_one_job_template():
    assert sorted(survey for _key, survey, _playbook in TEMPLATES) == SURVEY_FILES
    assert set(playbook for _key, _survey, playbook in TEMPLATES) == {'site.yml', 'gpu_report.yml'}
    for _key, _survey, playbook in TEMPLATES:
        assert os.path.isfile(os.path.join(PLAYBOOKS, playbook))


@pytest.mark.parametrize('survey_file', SURVEY_FILES)
def test_survey_is_a_valid_awx_survey_spec(survey_file):
    survey = load(os.path.join(SURVEYS, survey_file))
    assert set(survey) == {'name', 'description', 'spec'}
    assert survey['name'] and isinstance(survey['spec'], list) and survey['spec']
    variables = [question['variable'] for question in survey['spec']]
    assert len(variables) == len(set(variables)), variables
    for question in survey['spec']:
        assert set(question) <= QUESTION_KEYS, question
        assert question['question_name'] and question['type'] in COMPATIBLE, question
        assert re.match(r'^[a-zA-Z_][a-zA-Z0-9_]*$', question['variable']), question
        assert isinstance(question['required'], bool), question
        if question['type'] == 'multiplechoice':
            choices = question['choices']
            assert isinstance(choices, list) and choices, question
            assert all(isinstance(choice, str) for choice in choices), question  # AWX answers with strings
            assert 'default' not in question or question['default'] in choices, question
        elif question['type'] == 'integer':
            assert isinstance(question['min'], int) and isinstance(question['max'], int), question
            assert 'default' not in question or question['min'] <= question['default'] <= question['max'], question
        elif question['type'] in ('text', 'textarea'):
            assert 'choices' not in question, question
            assert 'default' not in question or question['min'] <= len(question['default']) <= question['max'], question
        # A question nobody has to answer and with no default must not send an empty value: AWX
        # leaves its variable out only when there is no default at all.
        if not question['required']:
            assert 'default' not in question, question


@pytest.mark.parametrize('survey_file', SURVEY_FILES)
def test_each_question_is_a_role_argument_or_allow_listed(survey_file):
    for question in questions(survey_file):
        variable, kind = question['variable'], question['type']
        if variable in OPTIONS:
            assert variable not in ALLOWED, '%s is a role argument: remove it from the allow-list' % variable
            role, spec = OPTIONS[variable]
            spec_type = spec.get('type', 'str')
            assert spec_type in COMPATIBLE[kind], (variable, role, spec_type, kind)
            if spec.get('choices'):
                # The same choices, so that no choice the role accepts is missing and none it refuses is offered.
                assert kind == 'multiplechoice', (variable, kind)
                assert sorted(question['choices']) == sorted(str(choice) for choice in spec['choices']), (variable, role)
            elif kind == 'multiplechoice':
                assert spec_type == 'bool' and set(question['choices']) == BOOL_CHOICES, (variable, question['choices'])
            if 'default' in question and spec.get('default') is not None and kind in ('integer', 'float'):
                assert isinstance(question['default'], type(spec['default'])), (variable, question['default'])
        else:
            assert variable in ALLOWED, '%s is neither a role argument nor in %s' % (variable, ALLOW_LIST)
            allowed = ALLOWED[variable]
            assert allowed['meaning'].strip(), variable
            assert allowed['type'] in COMPATIBLE[kind], (variable, allowed['type'], kind)
            if kind == 'multiplechoice':
                assert allowed['type'] == 'bool' and set(question['choices']) == BOOL_CHOICES, variable


@pytest.mark.parametrize('key,survey_file,playbook', TEMPLATES)
def test_the_playbook_of_each_job_template_reads_every_answer(key, survey_file, playbook):
    code = playbook_code(playbook)
    for question in questions(survey_file):
        variable = question['variable']
        if variable in OPTIONS:
            role = OPTIONS[variable][0]
            assert 'edge_gpu.sharing.%s' % role in code, (key, variable, role)
        else:
            assert playbook in ALLOWED[variable]['read_by'], (key, variable)
            assert reads(code, variable), '%s does not read %s, which the %s survey asks' % (playbook, variable, key)


def test_allow_list_has_no_stale_entry():
    asked = dict()
    for _key, survey_file, playbook in TEMPLATES:
        for question in questions(survey_file):
            asked.setdefault(question['variable'], set()).add(playbook)
    for variable, allowed in ALLOWED.items():
        assert variable in asked, '%s is allow-listed but no survey asks it' % variable
        assert set(allowed) == {'meaning', 'type', 'read_by'}, variable
        for playbook in allowed['read_by']:
            assert reads(playbook_code(playbook), variable), (variable, playbook)


def test_site_surveys_ask_what_an_operator_sets_for_a_rolling_converge():
    asked = {'converge.yml': set(), 'dry_run.yml': set()}
    for survey_file in asked:
        asked[survey_file] = set(question['variable'] for question in questions(survey_file))
    common = {'target_hosts', 'gpu_sharing_strategy', 'gpu_sharing_iothub_apply', 'gpu_sharing_serial',
              'gpu_sharing_max_fail_percentage'}
    assert asked['converge.yml'] == common | {'edge_gpu_check_mode'}
    # The dry run's job type is check: a check mode question could only mislead.
    assert asked['dry_run.yml'] == common


def test_strategy_question_keeps_each_device_own_strategy_when_left_empty():
    # An answer would override every device's strategy (extra variables win over group_vars):
    # the question must be optional with no default. The same for the IoT Hub apply mode.
    for survey_file in SURVEY_FILES:
        for question in questions(survey_file):
            if question['variable'] in ('gpu_sharing_strategy', 'gpu_sharing_iothub_apply'):
                assert question['required'] is False and 'default' not in question, survey_file


def test_no_survey_asks_for_a_secret():
    # Secrets (the IoT Hub connection string above all) come from AWX credentials, which the
    # controller stores encrypted; a survey answer is an extra variable, shown in the job's details.
    for survey_file in SURVEY_FILES:
        for question in questions(survey_file):
            assert question['type'] != 'password', (survey_file, question['variable'])
            assert not re.search(r'connection_string|password|token|secret|_key', question['variable']), (
                survey_file, question['variable'])


def test_docs_explain_every_allow_listed_variable():
    with open(DOC) as handle:
        text = handle.read()
    for variable in ALLOWED:
        assert '`%s`' % variable in text, variable
    for survey_file in SURVEY_FILES:
        assert survey_file in text, survey_file


def awx_tasks():
    """``{object: (module, args)}`` of the awx.awx tasks of awx_setup.yml: the object of
    ``__awx_setup_objects`` each task's ``name`` comes from (``job_template`` for the loop)."""
    found = {}
    for task in load(AWX_SETUP)[0]['tasks']:
        for sub in task.get('block', [task]):
            for key, value in sub.items():
                if key.startswith('awx.awx.'):
                    named = re.match(r'\{\{ __awx_setup_objects\.(\w+)\.name \}\}$', value['name'])
                    name = named.group(1) if named else 'job_template'
                    assert name not in found, name
                    found[name] = (key[len('awx.awx.'):], value)
    return found


def test_rendered_payloads_are_what_the_controller_is_given():
    # awx_setup_render_dir writes __awx_setup_objects and the job templates: each awx.awx task
    # must pass every key of its object, under the option of the same name, and nothing else.
    play = load(AWX_SETUP)[0]
    objects = play['vars']['__awx_setup_objects']
    tasks = awx_tasks()
    modules = {'organization': 'organization', 'execution_environment': 'execution_environment', 'project': 'project',
               'inventory': 'inventory', 'inventory_source': 'inventory_source', 'machine_credential': 'credential',
               'iothub_credential_type': 'credential_type', 'iothub_credential': 'credential'}
    assert sorted(tasks) == sorted(list(modules) + ['job_template'])
    for name, module in modules.items():
        used, args = tasks[name]
        assert used == module, (name, used)
        if name in ('machine_credential', 'iothub_credential'):
            # Rendered with its input names only; the task (no_log) gets the inputs themselves.
            assert args.pop('inputs') == '{{ awx_setup_%s_inputs }}' % name
            expected = {'name', 'organization', 'credential_type'}
        elif name == 'iothub_credential_type':
            # The data file, as it is.
            expected = set(load(CREDENTIAL_TYPE))
        else:
            expected = set(objects[name])
        args.pop('wait', None)  # how the module waits, not part of the object
        assert set(args) == expected, (name, sorted(set(args) ^ expected))
        for option, value in args.items():
            assert value == '{{ __awx_setup_objects.%s.%s }}' % (name, option), (name, option, value)
    build, = [task for task in play['tasks'] if task['name'].startswith('Build the job templates')]
    template_keys = set(build['vars']['__awx_setup_job_template'])
    used, args = tasks['job_template']
    assert used == 'job_template'
    assert set(args) == template_keys
    for option, value in args.items():
        assert value == '{{ item.%s }}' % option, (option, value)
