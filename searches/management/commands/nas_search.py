"""Searches from the command line: create or run one from a JSON spec file, list, status, export.

    manage.py nas_search create spec.json --user demo
    manage.py nas_search run spec.json --user demo         # create, then follow with a progress bar
    manage.py nas_search list --user demo
    manage.py nas_search status 7 [--follow]
    manage.py nas_search export 7 --format csv|json|onnx|torchscript [--trial 3] [--output file]

A spec file is the API's search spec plus "project": an id, or {"name": ..., "dataset": "builtin:digits"}
for a new project (README: "The spec file format"). The same checks and messages as the web form.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.http import Http404
from rest_framework.exceptions import ValidationError as ApiValidationError
from tqdm import tqdm

from searches import services
from searches.access import project_for_user, visible_projects
from searches.api.errors import flatten
from searches.api.serializers import SearchSerializer, TrialSerializer
from searches.api.specs import spec_document, start_from_spec
from searches.engine_data import build_model
from searches.export_loader import ExportError
from searches.models import Search, Trial
from searches.trial_export import export_trial, trials_csv

FINISHED = (Trial.COMPLETE, Trial.PRUNED, Trial.FAILED, Trial.CANCELLED)
FORMATS = ("csv", "json", "onnx", "torchscript")


def best_trial(search: Search) -> Trial | None:
    objective = search.primary_objective
    scored = [t for t in search.trials.filter(state=Trial.COMPLETE)
              if isinstance(t.metrics.get(objective["metric"]), (int, float))]
    if not scored:
        return None
    sign = 1 if objective["direction"] == "max" else -1
    return max(scored, key=lambda t: (sign * t.metrics[objective["metric"]], -t.number))


def describe_errors(exc) -> str:
    errors = exc.message_dict if isinstance(exc, ValidationError) and hasattr(exc, "error_dict") else (
        flatten(exc.detail) if isinstance(exc, ApiValidationError) else {"spec": exc.messages})
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


class Command(BaseCommand):
    help = "Create, run, list, inspect and export searches (see the README's Command line section)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("create", "run"):
            p = sub.add_parser(name, help=f"{name} a search from a JSON spec file")
            p.add_argument("spec", help="path of the spec file (- for standard input)")
            p.add_argument("--user", required=True, help="the username the search belongs to")
            if name == "run":
                p.add_argument("--poll", type=float, default=1.0, help="seconds between progress updates")
        p = sub.add_parser("list", help="searches, newest first")
        p.add_argument("--user", help="only searches this user can see")
        p.add_argument("--project", type=int)
        p = sub.add_parser("status", help="one search: state, trials, best so far")
        p.add_argument("search", type=int)
        p.add_argument("--follow", action="store_true", help="follow it to the end with a progress bar")
        p.add_argument("--poll", type=float, default=1.0)
        p = sub.add_parser("export", help="trials as csv or json; the best (or --trial) model as onnx/torchscript")
        p.add_argument("search", type=int)
        p.add_argument("--format", choices=FORMATS, default="csv")
        p.add_argument("--trial", type=int, help="trial number for onnx/torchscript (default: the best)")
        p.add_argument("--output", help="file to write (default: standard output for csv/json)")
        p.add_argument("--untrained", action="store_true",
                       help="onnx/torchscript of a trial without kept weights: the architecture, freshly initialised")

    def handle(self, *args, **opts):
        return getattr(self, f"do_{opts['action']}")(opts)

    # --- create / run -------------------------------------------------------------------------
    def _user(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        return user

    def _read_spec(self, path: str) -> dict:
        try:
            text = self.stdin.read() if path == "-" else Path(path).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(spec, dict):
            raise CommandError(f"{path}: a spec is a JSON object")
        return spec

    def _project(self, user, value):
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return project_for_user(user, value)
            except Http404:
                raise CommandError(f"project: no project {value} of {user.username}") from None
        if isinstance(value, dict) and set(value) <= {"name", "dataset", "description"}:
            existing = visible_projects(user).filter(name=value.get("name", "")).first()
            if existing is not None:
                return existing
            dataset = services.dataset_by_choice(str(value.get("dataset", "builtin:digits")))
            return services.create_project(user, value.get("name", ""), dataset, value.get("description", ""))
        raise CommandError('project: a project id, or {"name": ..., "dataset": "builtin:digits"}')

    def _create(self, opts) -> Search:
        user, spec = self._user(opts["user"]), self._read_spec(opts["spec"])
        if "project" not in spec:
            raise CommandError('project: say which project, e.g. "project": {"name": "Digits", '
                               '"dataset": "builtin:digits"}')
        try:
            project = self._project(user, spec.pop("project"))
            search = start_from_spec(project, user, spec)
        except (ValidationError, ApiValidationError) as exc:
            raise CommandError(describe_errors(exc)) from None
        self.stdout.write(f"search {search.id} “{search.name}” started in project {project.id} ({project.name})")
        return search

    def do_create(self, opts):
        self._create(opts)

    def do_run(self, opts):
        self.follow(self._create(opts), opts["poll"])

    def follow(self, search: Search, poll: float) -> None:
        total = search.max_trials or search.max_seconds
        unit = "trial" if search.max_trials else "s"
        metric = search.primary_metric
        with tqdm(total=total, unit=unit, desc=f"search {search.id}", file=self.stdout, dynamic_ncols=True) as bar:
            while True:
                search.refresh_from_db()
                counts = dict.fromkeys((s for s, _ in Trial.STATES), 0)
                for state in search.trials.values_list("state", flat=True):
                    counts[state] += 1
                done = sum(counts[s] for s in FINISHED)
                if search.max_trials:
                    bar.n = min(done, total)
                elif search.started_at:
                    bar.n = min(int(time.time() - search.started_at.timestamp()), total)
                best = best_trial(search)
                bar.set_postfix_str(f"running {counts['running']}, best {metric} "
                                    f"{'-' if best is None else f'{best.metrics[metric]:.4g} (trial {best.number})'}")
                bar.refresh()
                if search.state in Search.FINAL_STATES:
                    break
                time.sleep(poll)
        self.stdout.write(self._status_text(search))
        if search.state != Search.DONE:
            raise CommandError(f"search {search.id} ended {search.state}: {search.error or 'no reason given'}")

    # --- list / status --------------------------------------------------------------------------
    def do_list(self, opts):
        searches = Search.objects.select_related("project", "space")
        if opts["user"]:
            searches = searches.filter(project__in=visible_projects(self._user(opts["user"])))
        if opts["project"]:
            searches = searches.filter(project_id=opts["project"])
        self.stdout.write(f"{'id':>5}  {'state':<9}  {'trials':>7}  {'project':<20}  {'strategy':<12}  name")
        for search in searches:
            finished = search.trials.filter(state__in=FINISHED).count()
            budget = search.max_trials or "-"
            self.stdout.write(f"{search.id:>5}  {search.state:<9}  {f'{finished}/{budget}':>7}  "
                              f"{search.project.name[:20]:<20}  {search.strategy[:12]:<12}  {search.name}")

    def _search(self, search_id: int) -> Search:
        search = Search.objects.select_related("project", "space").filter(id=search_id).first()
        if search is None:
            raise CommandError(f"no search {search_id}")
        return search

    def _status_text(self, search: Search) -> str:
        counts = dict.fromkeys((s for s, _ in Trial.STATES), 0)
        for state in search.trials.values_list("state", flat=True):
            counts[state] += 1
        best = best_trial(search)
        metric = search.primary_metric
        lines = [f"search {search.id} “{search.name}”: {search.state}" + (f" ({search.error})" if search.error else ""),
                 f"  project {search.project_id} · {search.space.kind} space · {search.strategy} · "
                 f"{search.evaluator} evaluator · budget {search.max_trials or '-'} trials, "
                 f"{search.max_seconds or '-'} s",
                 "  trials: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n)]
        if best is not None:
            lines.append(f"  best: trial {best.number}, {metric} {best.metrics[metric]:.4g}, {best.description}")
        return "\n".join(lines)

    def do_status(self, opts):
        search = self._search(opts["search"])
        if opts["follow"]:
            self.follow(search, opts["poll"])
        else:
            self.stdout.write(self._status_text(search))

    # --- export -----------------------------------------------------------------------------------
    def do_export(self, opts):
        search, fmt, output = self._search(opts["search"]), opts["format"], opts["output"]
        if fmt == "csv":
            return self._write(trials_csv(search)[1].decode(), output)
        if fmt == "json":
            document = {"spec": spec_document(search), "search": SearchSerializer(search).data,
                        "trials": TrialSerializer(search.trials.order_by("number"), many=True).data}
            return self._write(json.dumps(document, indent=2, default=str) + "\n", output)
        trial = self._export_trial(search, opts["trial"])
        if not output:
            raise CommandError(f"--output: give a file for the {fmt} model")
        try:
            _, body = export_trial(trial, fmt)  # the trained weights the search kept (searches/weights.py)
        except ExportError as exc:
            if not opts["untrained"]:
                raise CommandError(f"trial {trial.number}: {exc} (--untrained exports the architecture with "
                                   f"fresh weights)") from None
            return self._export_untrained(search, trial, fmt, Path(output))
        Path(output).write_bytes(body)
        self.stderr.write(f"wrote {output}: trial {trial.number} ({trial.description}) as {fmt}, trained weights")

    def _write(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text)
            self.stderr.write(f"wrote {output}")
        else:
            self.stdout.write(text, ending="")

    def _export_trial(self, search: Search, number: int | None) -> Trial:
        if number is None:
            trial = best_trial(search)
            if trial is None:
                raise CommandError(f"search {search.id} has no complete trial yet; choose one with --trial")
            return trial
        trial = search.trials.filter(number=number).first()
        if trial is None:
            raise CommandError(f"--trial: search {search.id} has no trial {number}")
        return trial

    def _export_untrained(self, search: Search, trial: Trial, fmt: str, path: Path) -> None:
        """The trial's architecture as a model file with freshly initialised (seeded) weights, for a trial
        whose weights were not kept: the graph is the searched architecture, ready to train or to deploy-test."""
        import torch  # heavy: only for model export

        torch.manual_seed(search.seed * 100_003 + trial.number)
        model, inputs = build_model(search, trial.arch)
        model.eval()
        shape = (1, *inputs.input_shape)
        example = torch.zeros(shape, dtype=torch.long) if inputs.vocab_size else torch.rand(shape)
        if fmt == "torchscript":
            torch.jit.trace(model, (example,), check_trace=False).save(str(path))
        else:
            torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["output"],
                              dynamo=False)
        self.stderr.write(f"wrote {path}: trial {trial.number} ({trial.description}) as {fmt}, input shape "
                          f"{list(shape)}, weights freshly initialised (--untrained)")
