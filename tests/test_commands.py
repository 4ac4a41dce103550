"""losscalc/commands.py: the loss subcommands built from the registry."""

from click.testing import CliRunner

from losscalc.cli import cli
from losscalc.commands import GRAD_HELP
from losscalc.registry import losses


def grad_help(name: str) -> str:
    """The --grad entry of a loss's --help, on one line."""
    text = CliRunner().invoke(cli, [name, "--help"], env={"COLUMNS": "100"}, catch_exceptions=False).stdout
    entry = text[text.index("  --grad "):]
    entry = entry[:entry.index("\n  --", 1)]
    return " ".join(entry.split())


def test_only_ctc_says_what_its_gradient_is_with_respect_to():
    """Issue 10: CTC's caveat (PyTorch's CTC backward is taken before log_softmax) is said in
    ctc's help only; every other loss's --grad help is the plain one."""
    for loss in losses():
        said = grad_help(loss.name)
        assert said.startswith("--grad " + " ".join(GRAD_HELP.split())), (loss.name, said)
        assert ("formula above" in said) == (loss.name == "ctc"), (loss.name, said)
        assert "log_softmax" not in said and "ctc" not in said.lower(), (loss.name, said)
    ctc = next(loss for loss in losses() if loss.name == "ctc")
    assert "activations before log_softmax" in ctc.section("Formula")  # where the help points
