"""The command line: the click group `losscalc`, whose loss subcommands (`commands.py`) are
resolved through the registry by any alias, and its own commands: list, explain, completion.

A LossError becomes exit code 2 with its message; any other exception is a bug: one line and
exit 1, or the traceback with LOSSCALC_DEBUG=1.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .commands import CONTEXT, make_command, make_many_command
from .completion import SHELLS, complete_loss, completion_script, loss_completions
from .errors import LossError
from .registry import find, losses


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None):
        click.echo(f"Error: {self.format_message()}", err=True)


class LossGroup(click.Group):
    """Loss subcommands resolved through the registry: any alias, any case, `-` or `_`."""

    def list_commands(self, ctx):
        return sorted(self.commands) + [loss.name for loss in losses()]

    def get_command(self, ctx, name):
        if name in self.commands:
            return self.commands[name]
        try:
            if "," in name:
                return make_many_command([find(n) for n in name.split(",") if n.strip()])
            return make_command(find(name))
        except LossError:
            return None

    def resolve_command(self, ctx, args):
        name = args[0]
        if name not in self.commands and not ctx.resilient_parsing:  # completing: no error
            try:
                losses = [find(n) for n in name.split(",")]
                if len(losses) > 1 and any([t.name for t in l.tensors] != [t.name for t in losses[0].tensors]
                                           for l in losses):
                    raise LossError(f"the losses {name} take different tensors; several losses in one call "
                                    "must take the same tensors.")
            except LossError as e:
                raise UserError(str(e)) from None
        return super().resolve_command(ctx, args)

    def shell_complete(self, ctx, incomplete):
        """Subcommands, loss names and their aliases (or the group's options after `-`)."""
        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        if "," in incomplete:  # several losses: complete the one after the last comma
            from click.shell_completion import CompletionItem

            head, _, tail = incomplete.rpartition(",")
            return [CompletionItem(f"{head},{item.value}", help=item.help) for item in loss_completions(tail)]
        extra = [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())]
        return loss_completions(incomplete, extra)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LossError as e:
            raise UserError(str(e)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except MemoryError:
            raise UserError("not enough memory for this computation; use smaller tensors.") from None
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(0)
        except Exception as e:  # a bug: one line, unless asked for the traceback
            if os.environ.get("LOSSCALC_DEBUG") == "1":
                raise
            click.echo(f"losscalc: internal error ({type(e).__name__}: {e}). This is a bug; "
                       "run again with LOSSCALC_DEBUG=1 for the traceback.", err=True)
            ctx.exit(1)


@click.group(cls=LossGroup, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="losscalc")
def cli():
    """Compute PyTorch's loss functions from the shell, element by element.

    \b
      losscalc LOSS [OPTIONS] TENSOR...   compute one loss
      losscalc list                       every loss
      losscalc explain LOSS               formula, shapes, options, pitfalls, a worked example
      losscalc LOSS --help                that loss's options
      losscalc completion bash|zsh|fish   the shell completion script

    \b
    Example:
      losscalc mse --reduction sum 1,2,3 1.5,2,2
    """


@cli.command("list", short_help="Every loss: aliases, tensors, options, reductions.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_command(fmt):
    """Every loss: name, aliases, tensors, options, reductions, the PyTorch class.

    \b
    Example:
      losscalc list --format json
    """
    from .docs import render_list

    render_list(fmt, sys.stdout)


@cli.command("explain", short_help="Formula, shapes, options, pitfalls, a worked example.")
@click.argument("loss", shell_complete=complete_loss)
def explain_command(loss):
    """Formula, tensors and shapes, options with defaults, pitfalls, and a worked example.

    \b
    Example:
      losscalc explain mse
    """
    from .docs import render_explain

    render_explain(find(loss), sys.stdout)


@cli.command("completion", short_help="The completion script for bash, zsh or fish.")
@click.argument("shell", type=click.Choice(SHELLS))
def completion_command(shell):
    """Print the shell completion script for bash, zsh or fish (loss names and aliases, each
    loss's options and choices, file paths for tensors). Install it as README.md says.

    \b
    Example:
      losscalc completion bash
    """
    click.echo(completion_script(shell))


def main() -> None:
    cli(prog_name="losscalc")
