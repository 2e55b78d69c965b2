"""Regenerate README.md's model-zoo table from configs/metafile.yml.

    python tools/model_zoo.py            # rewrite the table between the markers
    python tools/model_zoo.py --check    # exit 1 if README.md is out of date

One row per model of the metafile: task, dataset, model, the paper's baseline and +DenoiseRep figures
(Results with ``Source: paper``, by ``Arm``: every metric of the arm, one per line), where the DenoiseRep
recipe comes from (``Recipe``: "authors' code" or "project recipe"), and links to the baseline, control and
DenoiseRep configs.
The table sits between ``<!-- model-zoo:start -->`` and ``<!-- model-zoo:end -->``; the rest of the README
is left as it is. Any failure prints one line and exits non-zero.
"""
import argparse
import os.path as osp
import sys

import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
START, END = '<!-- model-zoo:start -->', '<!-- model-zoo:end -->'
HEADER = ('| Task | Dataset | Model | Paper baseline | Paper +DenoiseRep | Recipe | Baseline | Control '
          '| DenoiseRep |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
#: How metrics are printed, by key prefix (the toolbox's precision: mmdet's COCO figures are fractions with
#: three decimals); others (percent) with two decimals.
FORMATS = {'coco/': '{:.3f}'}
#: What a Recipe starts with, and how the table shows it.
RECIPES = ("authors' code", 'project recipe')
NONE = '—'


class ZooError(ValueError):
    """A metafile or README that the table cannot be made from or written into."""


def paper_figure(model: dict, arm: str) -> str:
    """'metric value' of the paper's figure(s) for ``arm`` of ``model``, or ''."""
    cells = []
    for result in model.get('Results') or []:
        if result.get('Source') == 'paper' and result.get('Arm') == arm:
            for name, value in (result.get('Metrics') or {}).items():
                form = next((f for prefix, f in FORMATS.items() if name.startswith(prefix)), '{:.2f}')
                try:
                    cells.append(f'{name} {form.format(value)}')
                except (TypeError, ValueError) as error:
                    raise ZooError(f'model {model.get("Name")!r}: {name} is not a number: {value!r}') from error
    return '<br>'.join(cells)


def recipe(model: dict) -> str:
    """The table's Recipe cell: which of RECIPES the model's ``Metadata.Recipe`` starts with."""
    text = (model.get('Metadata') or {}).get('Recipe')
    kind = next((k for k in RECIPES if isinstance(text, str) and text.startswith(k)), None)
    if kind is None:
        raise ZooError(f'model {model.get("Name")!r}: Recipe must start with ' + ' or '.join(map(repr, RECIPES))
                       + f', not {text!r}')
    return kind


def table(metafile: str) -> str:
    """The markdown table of the models of ``metafile`` (paths in it are relative to the repository)."""
    try:
        with open(metafile, encoding='utf-8') as f:
            models = (yaml.safe_load(f) or {}).get('Models') or []
    except (OSError, yaml.YAMLError) as error:
        raise ZooError(f'cannot read {metafile}: {str(error).splitlines()[0]}') from error
    if not models:
        raise ZooError(f'{metafile} has no Models')
    rows = [HEADER]
    for model in models:
        meta = model.get('Metadata') or {}
        try:
            configs = [meta['Baseline Config'], meta['Control Config'], model['Config']]
            name = ' '.join(filter(None, [meta.get('Architecture'), meta['Backbone']]))
            task, dataset = meta['Task'], meta['Dataset']
        except KeyError as error:
            raise ZooError(f'{metafile}: model {model.get("Name")!r} has no {error.args[0]!r}') from error
        try:
            baseline = paper_figure(model, 'baseline') or NONE
            denoiserep = paper_figure(model, 'denoiserep') or NONE
            kind = recipe(model)
        except ZooError as error:
            raise ZooError(f'{metafile}: {error}') from error
        links = [f'[config]({path})' for path in configs]
        rows.append('| ' + ' | '.join([task, dataset, name, baseline, denoiserep, kind, *links]) + ' |')
    return '\n'.join(rows)


def updated(readme_text: str, new_table: str, readme: str) -> str:
    """``readme_text`` with the part between the markers replaced by ``new_table``."""
    if readme_text.count(START) != 1 or readme_text.count(END) != 1:
        raise ZooError(f'{readme} needs exactly one {START} and one {END} line')
    head, rest = readme_text.split(START)
    if END not in rest:
        raise ZooError(f'{readme}: {END} comes before {START}')
    tail = rest.split(END)[1]
    return f'{head}{START}\n{new_table}\n{END}{tail}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--check', action='store_true', help='exit 1 if the README table is out of date')
    parser.add_argument('--metafile', default=osp.join(ROOT, 'configs', 'metafile.yml'))
    parser.add_argument('--readme', default=osp.join(ROOT, 'README.md'))
    args = parser.parse_args(argv)
    try:
        new_table = table(args.metafile)
        try:
            with open(args.readme, encoding='utf-8') as f:
                text = f.read()
        except OSError as error:
            raise ZooError(f'cannot read {args.readme}: {error.strerror}') from error
        new_text = updated(text, new_table, args.readme)
    except ZooError as error:
        sys.exit(f'model_zoo.py: error: {error}')
    if args.check:
        if new_text != text:
            sys.exit(f'model_zoo.py: {osp.relpath(args.readme)} is out of date with '
                     f'{osp.relpath(args.metafile)}; run python tools/model_zoo.py')
        return 0
    if new_text != text:
        with open(args.readme, 'w', encoding='utf-8') as f:
            f.write(new_text)
        print(f'model_zoo.py: updated the model zoo of {osp.relpath(args.readme)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
