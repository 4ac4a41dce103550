"""The loss subcommands, built from the registry: the options every loss shares, declared once
(`_common_options`), each loss's tensors and own options from its registry entry, its help
with a runnable example, and the step from parsed options to a Result (`compute_params`),
which `losscalc explain` takes too. Commands hand the Result to the renderer.
"""

from __future__ import annotations

import sys
import warnings

import click

from .completion import complete_path
from .errors import LossError, LossWarning
from .reduction import DEFAULT, DEPRECATED
from .registry import FRAMEWORKS, Loss
from .render.serial import MAX_ELEMENTS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Reduction(click.Choice):
    """The loss's reductions; also takes the deprecated ones (`elementwise_mean`), not offered."""

    def convert(self, value, param, ctx):
        if value in DEPRECATED:
            return value
        return super().convert(value, param, ctx)


GRAD_HELP = ("add the analytic gradient of the value (of the sum of the elements with --reduction none) "
             "with respect to each floating-point tensor, as PyTorch gives it")


def grad_help(loss) -> str:
    """--grad's help; a loss whose formula (its docstring) says what its gradient is, as ctc's
    does (PyTorch's CTC backward: with respect to the activations before log_softmax), points there."""
    formula = loss.section("Formula") if isinstance(loss, Loss) else ""
    return GRAD_HELP + ("; what it is here: see --grad in the formula above" if "--grad" in formula else "")


def _common_options(loss: Loss) -> list[click.Parameter]:
    """The options every loss has (--reduction, --format, ...), declared once."""
    params = [
        click.Option(["--reduction"], type=Reduction(list(loss.reductions)), default=DEFAULT, show_default=True,
                     help="how the element losses are reduced"),
    ]
    if loss.legacy:
        params += [
            click.Option(["--size-average/--no-size-average"], default=None,
                         help="deprecated (PyTorch's size_average); overrides --reduction"),
            click.Option(["--reduce/--no-reduce"], default=None,
                         help="deprecated (PyTorch's reduce); overrides --reduction"),
        ]
    params += [
        click.Option(["--format", "fmt"], type=click.Choice(["table", "json", "value", "csv"]), default="table",
                     show_default=True, help="table for people; json, value or csv for scripts"),
        click.Option(["--dtype"], type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
                     help="the floating-point type of the computation"),
        click.Option(["--output", "-o"], type=str, default=None, metavar="FILE", shell_complete=complete_path,
                     help="save the unreduced element losses to a .npy, .csv or .json file (with --grad, "
                          "the gradients too, beside it: FILE's name without its suffix + .grad.NAME.npy)"),
        click.Option(["--precision"], type=click.IntRange(1, 17), default=None,
                     help="significant digits in table and csv output (tables default to 10; json and value are always exact)"),
        click.Option(["--max-rows"], type=click.IntRange(1), default=20, show_default=True,
                     help="breakdown rows shown before head and tail are kept"),
        click.Option(["--grad"], is_flag=True, default=False, help=grad_help(loss)),
        click.Option(["--seed"], type=click.IntRange(0), default=None, help="seed for generator tensors such as randn(3,5)"),
        click.Option(["--top"], type=click.IntRange(0), default=0, metavar="K",
                     help="the K largest element losses (NaN counted largest, ties to the lower index), with inputs and terms"),
        click.Option(["--bottom"], type=click.IntRange(0), default=0, metavar="K", help="the K smallest element losses"),
        click.Option(["--group-by"], type=str, default=None, metavar="G", shell_complete=complete_path,
                     help="group labels (any tensor form, or a tensor's name: --group-by target): count, value "
                          "under the loss's reduction and share of the sum per group"),
        click.Option(["--convention"], type=click.Choice(list(FRAMEWORKS)), default="torch", show_default=True,
                     help="compute the loss as that framework's own loss does, with its defaults"),
        click.Option(["--compare"], type=str, default=None, metavar="LIST",
                     help="each framework's value beside PyTorch's: torch,keras,optax,sklearn or all"),
        click.Option(["--max-elements"], type=click.IntRange(0), default=MAX_ELEMENTS, show_default=True,
                     help="JSON carries the elements (and gradients) up to this many; beyond, null: use --output"),
        click.Option(["--threads"], type=click.IntRange(1), default=None,
                     help="threads the chunks run on (default: the machine's cores; 1: no pool)"),
        click.Option(["--engine"], type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="local: threads on this machine; dask: the chunks as tasks of a Dask cluster "
                          "(pip install 'losscalc[dask]')"),
        click.Option(["--scheduler"], type=str, default=None, metavar="ADDRESS",
                     help="a running dask.distributed scheduler (default: DASK_SCHEDULER_ADDRESS, else a "
                          "local cluster for the call)"),
        click.Option(["--scheduler-timeout"], type=click.FloatRange(0, min_open=True), default=10.0,
                     show_default=True, help="seconds to reach the scheduler before giving up (exit 2)"),
        click.Option(["--progress/--no-progress"], default=True,
                     help="a progress bar on stderr for large inputs (only when stderr is a terminal)"),
    ]
    return params


def _loss_option(opt) -> click.Option:
    if opt.type is bool:
        name = opt.name.replace("_", "-")
        return click.Option([f"--{name}/--no-{name}", opt.name], default=opt.default, show_default=True, help=opt.help_text)
    if opt.type == "tensor":
        return click.Option([opt.flag, opt.name], type=str, default=None, metavar="TENSOR", help=opt.help_text,
                            shell_complete=complete_path)
    kind = click.Choice(list(opt.choices)) if opt.choices else opt.type
    return click.Option([opt.flag, opt.name], type=kind, default=opt.default, show_default=True, help=opt.help_text)


def loss_help(loss: Loss) -> str:
    formula = loss.section("Formula")
    lines = [loss.summary, ""]
    if formula:
        lines += ["\b", *formula.splitlines(), ""]
    lines += ["\b", "Tensors: " + " ".join(t.name.upper() for t in loss.tensors) + " (any tensor syntax: "
              "inline 1,2,3, a .npy/.npz/.csv/.json file, - for stdin, or randn(3,5))"]
    if loss.example:
        lines += ["", "\b", "Example:", f"  losscalc {loss.name} {loss.example}"]
    if loss.matches:
        lines += ["", f"Matches {loss.matches}. `losscalc explain {loss.name}` says more."]
    return "\n".join(lines)


class LossCommand(click.Command):
    """A loss subcommand. Words that start with `-` but are no option of the command, such as
    negative numbers (`-1,-1`, `-inf`) and file names (`-1.npy`), are tensors: click is told
    to leave unknown options to the arguments, and the callback refuses a leftover `--word`
    as the unknown option it is."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ignore_unknown_options = True

    def parse_args(self, ctx, args):
        from click.exceptions import NoSuchOption

        options = {f: p for p in self.get_params(ctx) if isinstance(p, click.Option) for f in p.opts + p.secondary_opts}
        takes_value = False
        for word in args:
            if takes_value:
                takes_value = False
                continue
            if word == "--":
                break
            flag = word.split("=")[0]
            if word.startswith("--") and flag not in options and not ctx.resilient_parsing:
                raise NoSuchOption(flag, possibilities=list(options), ctx=ctx)
            option = options.get(flag)
            takes_value = option is not None and not option.is_flag and "=" not in word
        return super().parse_args(ctx, args)


def make_command(loss: Loss) -> click.Command:
    params: list[click.Parameter] = [click.Argument([t.name], metavar=t.name.upper(), shell_complete=complete_path)
                                     for t in loss.tensors]
    params += [_loss_option(o) for o in loss.options]
    params += _common_options(loss)

    def callback(**kwargs):
        run(loss, kwargs)

    return LossCommand(loss.name, params=params, callback=callback, help=loss_help(loss),
                         short_help=loss.summary, context_settings=CONTEXT, no_args_is_help=True)


def make_many_command(losses: list[Loss]) -> click.Command:
    """`losscalc mse,l1,huber TENSOR...`: several losses of the same tensors in one pass. Each
    option applies to the losses that have it (unset, each loss keeps its own default)."""
    from types import SimpleNamespace

    first = losses[0]
    params: list[click.Parameter] = [click.Argument([t.name], metavar=t.name.upper(), shell_complete=complete_path)
                                     for t in first.tensors]
    options = {}
    for loss in losses:
        for o in loss.options:
            options.setdefault(o.name, o)
    for o in options.values():
        option = _loss_option(o)
        option.default, option.show_default = None, False
        params.append(option)
    shared = SimpleNamespace(reductions=tuple(dict.fromkeys(r for l in losses for r in l.reductions)),
                             legacy=any(l.legacy for l in losses))
    params += _common_options(shared)
    name = ",".join(l.name for l in losses)

    def callback(**kwargs):
        run_many(losses, kwargs)

    return LossCommand(name, params=params, callback=callback, context_settings=CONTEXT, no_args_is_help=True,
                       help=f"Several losses of the same tensors, in one pass: {', '.join(l.name for l in losses)}.")


ONE_LOSS_ONLY = {"output": None, "grad": False, "convention": "torch", "compare": None}


def run_many(losses: list[Loss], kwargs: dict) -> None:
    from .engine import compute_many
    from .render import render_many

    for key, default in ONE_LOSS_ONLY.items():
        if kwargs.pop(key, default) != default:
            raise LossError(f"--{key.replace('_', '-')} takes one loss; give the losses one call each.")
    fmt, precision, max_rows = kwargs.pop("fmt"), kwargs.pop("precision"), kwargs.pop("max_rows")
    for key in DISPLAY:
        kwargs.pop(key, None)
    tensors = [kwargs.pop(t.name) for t in losses[0].tensors]
    settings = {k: v for k, v in kwargs.items() if v is not None}
    settings["summary"] = fmt in ("table", "json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LossWarning)
        try:
            results = compute_many([l.name for l in losses], *tensors, **settings)
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, LossWarning)):
                click.echo(f"warning: {message}", err=True)
    render_many(results, fmt, sys.stdout, precision=precision, max_rows=max_rows)


def run(loss: Loss, kwargs: dict) -> None:
    """Compute one loss from parsed CLI arguments and render it."""
    from .output import ElementsFile
    from .render import render

    fmt, output = kwargs.pop("fmt"), kwargs.pop("output")
    precision, max_rows = kwargs.pop("precision"), kwargs.pop("max_rows")
    max_elements, show_progress = kwargs.pop("max_elements"), kwargs.pop("progress")
    convention, compare = kwargs.pop("convention"), kwargs.pop("compare")
    dtype_given = click.get_current_context().get_parameter_source("dtype") != click.core.ParameterSource.DEFAULT
    sinks = [ElementsFile(output)] if output else []
    bar = _Progress() if show_progress and sys.stderr.isatty() else None
    try:
        summary = fmt in ("table", "json")  # shown past --max-rows
        result = compute_params(loss, kwargs, sinks=sinks, keep=max(max_elements, 1 << 20), progress=bar,
                                summary=summary, grad_files=output)
        for sink in sinks:
            sink.finish()
    finally:
        for sink in sinks:
            sink.abort()
        if bar:
            bar.close()
    if convention != "torch" or compare:
        from .frameworks import conventions_of

        conventions_of(result, convention, compare, result.dtype if dtype_given else None)
    render(result, fmt, sys.stdout, precision=precision, max_rows=max_rows, max_elements=max_elements)


class _Progress:
    """A rich progress bar on stderr, shown once a run has many chunks."""

    def __init__(self):
        self.bar = self.task = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < 16:
                return
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("chunks", total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def compute_params(loss: Loss, kwargs: dict, **engine):
    """The Result for a loss command's parsed parameters (less the display ones); its
    warnings go to stderr. `losscalc explain` runs the worked example through here too."""
    from .engine import compute

    tensors = [kwargs.pop(t.name) for t in loss.tensors]
    if not loss.legacy:
        kwargs.pop("size_average", None), kwargs.pop("reduce", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LossWarning)
        try:
            return compute(loss.name, *tensors, **kwargs, **engine)
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, LossWarning)):
                click.echo(f"warning: {message}", err=True)


DISPLAY = ("fmt", "output", "precision", "max_rows", "max_elements", "progress", "convention",
           "compare")  # not compute's business


def parse_example(loss: Loss) -> dict:
    """The compute parameters (tensors included) of a loss's registry example, parsed as the
    command line would; the display options are left out."""
    import shlex

    ctx = make_command(loss).make_context(loss.name, shlex.split(loss.example))
    return {k: v for k, v in ctx.params.items() if k not in DISPLAY}


def example_call(loss: Loss) -> tuple[list, dict]:
    """A loss's registry example as `compute` arguments: (tensors, settings)."""
    params = parse_example(loss)
    return [params.pop(t.name) for t in loss.tensors], params
