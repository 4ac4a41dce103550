"""Documentation that cannot drift: `list`, `explain`, help examples, README.md (its examples
and its table of losses) and the committed completion scripts, all checked against what the
registry and the click application generate. Every test here is generic over the registry."""

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from losscalc import docs, generate
from losscalc.cli import cli
from losscalc.commands import make_command
from losscalc.registry import losses

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LOSSES = losses()
NAMES = [loss.name for loss in LOSSES]


def run(*args, env=None, **kwargs):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, **kwargs)


# The README's table and the completion scripts: committed = generated ---------------------


def test_readme_table_is_generated_from_the_registry():
    text = README.read_text(encoding="utf-8")
    assert generate.with_table(text) == text, (
        "the table of losses in README.md is out of date: run `python -m losscalc.generate --readme`"
    )
    for name in NAMES:
        assert f"| `{name}` |" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_scripts_are_what_the_application_generates(shell):
    name = generate.COMPLETION_FILES[shell]
    committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
    fix = "run `python -m losscalc.generate --completions`"
    assert committed == generate.completion_files()[name], f"completions/{name} is out of date: {fix}"
    assert run("completion", shell).stdout == committed
    # click's own entry point prints the same script
    r = CliRunner().invoke(cli, [], prog_name="losscalc", env={"_LOSSCALC_COMPLETE": f"{shell}_source"},
                           catch_exceptions=False)
    assert r.stdout.rstrip("\n") == committed.rstrip("\n")


# Completion candidates, for every loss ---------------------------------------------------


def complete(line: str) -> list:
    """The completion items for the last word of `line` (empty if it ends in a space)."""
    from click.shell_completion import BashComplete

    words = shlex.split(line)
    if line.endswith(" "):
        words.append("")
    comp = BashComplete(cli, {}, "losscalc", "_LOSSCALC_COMPLETE")
    return comp.get_completions(words[1:-1], words[-1])


def values(line: str) -> list[str]:
    return [item.value for item in complete(line)]


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_loss_names_and_aliases_complete(loss):
    assert loss.name in values(f"losscalc {loss.name[:3]}")
    for alias in loss.aliases:
        assert alias in values(f"losscalc {alias[:-1]}")
    assert loss.name in values(f"losscalc explain {loss.name[:2]}")


def test_nothing_typed_offers_the_commands_and_the_canonical_names():
    assert values("losscalc ") == ["completion", "explain", "list", *NAMES]


def test_names_complete_ignoring_case_and_dashes():
    loss = next(loss for loss in LOSSES if "_" in loss.name)
    assert loss.name in values("losscalc " + loss.name.upper().replace("_", "-"))


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_each_loss_completes_its_own_options(loss):
    offered = set(values(f"losscalc {loss.name} --"))
    own = set()
    for p in make_command(loss).params:
        own.update(o for o in [*p.opts, *p.secondary_opts] if o.startswith("--"))
    assert offered == own | {"--help"}
    assert {o.flag for o in loss.options} <= offered and "--reduction" in offered


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_reduction_offers_exactly_the_losses_reductions(loss):
    assert values(f"losscalc {loss.name} --reduction ") == list(loss.reductions)


def test_batchmean_is_offered_only_where_registered():
    with_batchmean = [loss.name for loss in LOSSES if "batchmean" in values(f"losscalc {loss.name} --reduction ")]
    assert with_batchmean == [loss.name for loss in LOSSES if "batchmean" in loss.reductions]


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_tensors_complete_as_file_paths_and_choices_as_choices(loss):
    for k in range(len(loss.tensors)):
        given = " ".join(["0"] * k)
        items = complete(f"losscalc {loss.name} {given} ev".replace("  ", " "))
        assert [(i.type, i.value) for i in items] == [("file", "ev")]
    for opt in loss.options:
        if opt.type == "tensor":
            assert [i.type for i in complete(f"losscalc {loss.name} {opt.flag} w")] == ["file"]
        elif opt.choices:
            assert values(f"losscalc {loss.name} {opt.flag} ") == list(opt.choices)
    assert [i.type for i in complete(f"losscalc {loss.name} --output o")] == ["file"]
    assert values(f"losscalc {loss.name} --format ") == ["table", "json", "value", "csv"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_scripts_protocol_answers_for_each_shell(shell):
    """What each script runs at a TAB: `_LOSSCALC_COMPLETE={shell}_complete losscalc` with the
    words in COMP_WORDS and, for fish, the word being completed in COMP_CWORD."""
    loss = next((loss for loss in LOSSES if "batchmean" in loss.reductions), LOSSES[0])
    line = f"losscalc {loss.name} --reduction "
    env = {"_LOSSCALC_COMPLETE": f"{shell}_complete", "COMP_WORDS": line, "COMP_CWORD": "" if shell == "fish" else "3"}
    r = CliRunner().invoke(cli, [], prog_name="losscalc", env=env, catch_exceptions=False)
    # (the exact wire format is click's and changes between its versions: check what is offered)
    offered = re.findall(r"\b(none|mean|sum|batchmean)\b", r.stdout)
    assert offered == list(loss.reductions)
    env["COMP_WORDS"] = "losscalc mse --reduction "
    r = CliRunner().invoke(cli, [], prog_name="losscalc", env=env, catch_exceptions=False)
    assert re.findall(r"\b(none|mean|sum|batchmean)\b", r.stdout) == ["none", "mean", "sum"]


def test_completing_after_an_unknown_loss_is_quiet():
    assert "--help" in values("losscalc not_a_loss --")


def shim_dir(tmp_path: Path) -> Path:
    """`losscalc` and `python` on PATH, both this interpreter running this checkout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, cmd in [("losscalc", f'"{sys.executable}" -m losscalc'), ("python", f'"{sys.executable}"')]:
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\nexec {cmd} "$@"\n')
        path.chmod(0o755)
    return bin_dir


def shell_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("_LOSSCALC")}
    env.update(PATH=f"{shim_dir(tmp_path)}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT), COLUMNS="80",
               HOME=str(tmp_path))
    return env


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_in_bash(tmp_path):
    extra = next((loss for loss in LOSSES if "batchmean" in loss.reductions), LOSSES[0])
    script = f"""
source {ROOT / 'completions' / 'losscalc.bash'}
sim() {{
    read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=()
    _losscalc_completion losscalc; echo "${{COMPREPLY[*]}}"
}}
sim "losscalc {LOSSES[0].name[:2]}"
sim "losscalc {extra.name} --reduction "
sim "losscalc {extra.name} --re"
"""
    r = subprocess.run(["bash", "-c", script], env=shell_env(tmp_path), capture_output=True, text=True, timeout=60)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 3, r.stderr
    assert LOSSES[0].name in lines[0].split()
    assert lines[1].split() == list(extra.reductions)
    assert set(lines[2].split()) == {"--reduction", "--reduce"}


# losscalc list -------------------------------------------------------------------------


def test_list_json_is_the_registry():
    r = run("list", "--format", "json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert [row["name"] for row in rows] == NAMES
    for row, loss in zip(rows, LOSSES):
        assert row["aliases"] == list(loss.aliases)
        assert [t["name"] for t in row["tensors"]] == [t.name for t in loss.tensors]
        assert [(o["flag"], o["default"]) for o in row["options"]] == [(o.flag, o.default) for o in loss.options]
        assert row["reductions"] == list(loss.reductions)
        assert row["torch"] == (f"torch.nn.{loss.torch}" if loss.torch else None)


@pytest.mark.parametrize("columns", [60, 100, 200])
def test_list_table_fits_the_terminal(columns):
    r = run("list", env={"COLUMNS": str(columns)})
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= columns
    for loss in LOSSES:
        assert any(re.match(rf"│ {loss.name} +│", line) for line in lines), loss.name
        assert loss.torch is None or loss.torch in re.sub(r"[│\s]", "", r.stdout)  # folded or not
    assert not any(line != line.rstrip() for line in lines)
    assert "\x1b[" not in r.stdout  # not a terminal: no colour, no styles


# losscalc explain ----------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_explain_shows_everything_and_a_live_example(loss):
    r = run("explain", loss.name, env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    for line in loss.section("Formula").splitlines():
        assert line.split()[0] in out
    assert "Shape" in out and all(t.name in out for t in loss.tensors)
    for o in loss.options:
        assert o.flag in out and docs.default_text(o) in out
    assert loss.torch is None or f"torch.nn.{loss.torch}" in out
    for p in loss.pitfalls:
        assert " ".join(p.split()[:4]) in " ".join(out.split())
    # the worked example is exactly what running it prints
    example = run(loss.name, *shlex.split(loss.example), env={"COLUMNS": "100"})
    assert f"$ losscalc {loss.name} {loss.example}" in out
    assert out.endswith(example.stdout)


def test_explain_resolves_aliases_and_rejects_unknown_names():
    assert run("explain", LOSSES[0].aliases[0]).stdout == run("explain", LOSSES[0].name).stdout
    r = run("explain", "no_such_loss")
    assert r.exit_code == 2 and "unknown loss" in r.stderr


# The pitfalls users trip on most, which `explain` must show (as the registry entry words them).
KNOWN_PITFALLS = {
    "kl_div": ["batchmean"],  # mean is not the KL divergence
    "cross_entropy": ["--weight", "logits"],  # weighted-mean denominator; raw scores in
    "nll": ["log-probabilities"],
    "bce": ["-100", "bce_with_logits"],  # the clamp; probabilities in
    "ctc": ["target length", "log_softmax"],  # per-length mean; log-softmaxed input
}


@pytest.mark.parametrize("name", sorted(KNOWN_PITFALLS))
def test_the_classic_pitfalls_are_in_the_registry(name):
    if name not in NAMES:
        pytest.skip(f"{name} is not registered")
    text = " ".join(next(loss for loss in LOSSES if loss.name == name).pitfalls)
    for word in KNOWN_PITFALLS[name]:
        assert word in text, f"{name}'s pitfalls should mention {word}"


@pytest.mark.parametrize("columns", [60, 80])
def test_explain_text_fits_the_terminal(columns):
    for loss in LOSSES:
        out = run("explain", loss.name, env={"COLUMNS": str(columns)}).stdout
        prose = out[: out.index("Worked example")]  # the example's command line is kept whole, copyable
        assert max(cell_len(line) for line in prose.splitlines()) <= columns, loss.name
        assert not any(line != line.rstrip() for line in prose.splitlines()), loss.name


class Terminal(io.StringIO):
    def isatty(self):
        return True


def colour_codes(text: str) -> list[str]:
    """SGR parameters that set a colour (30-38, 40-48, 90-107), as opposed to bold."""
    params = [p for seq in re.findall(r"\x1b\[([\d;]*)m", text) for p in seq.split(";") if p]
    return [p for p in params if 30 <= int(p) <= 48 or 90 <= int(p) <= 107]


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    for var in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    loss = LOSSES[0]
    tty = Terminal()
    docs.render_explain(loss, tty)
    assert colour_codes(tty.getvalue())  # a terminal gets colour
    piped = io.StringIO()
    docs.render_explain(loss, piped)
    assert "\x1b[" not in piped.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    for render in (lambda s: docs.render_explain(loss, s), lambda s: docs.render_list("table", s)):
        tty = Terminal()
        render(tty)
        assert not colour_codes(tty.getvalue())


# Help texts carry runnable examples; the README's examples run ---------------------------


def help_examples() -> list[str]:
    """Every `losscalc ...` line in an Example: block of any help text."""
    commands = [[], ["list"], ["explain"], ["completion"], *[[name] for name in NAMES]]
    found = []
    for args in commands:
        text = run(*args, "--help").stdout
        for block in re.findall(r"Examples?:\n((?:[ \t]+\S.*\n)+)", text):
            found += [line.strip() for line in block.splitlines() if line.strip().startswith("losscalc ")]
    return found


HELP_EXAMPLES = help_examples()


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_every_loss_help_has_its_registry_example(loss):
    assert loss.example, f"{loss.name} has no example in its registry entry"
    assert f"losscalc {loss.name} {loss.example}" in HELP_EXAMPLES


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_examples_can_be_pasted_into_bash_and_zsh(loss):
    """Brackets, parentheses and `;` are quoted, or zsh stops at "no matches found"."""
    for word in loss.example.split():
        if re.search(r"[][*?()<>;|&$`!{}]", word):
            assert word[0] in "'\"", f"{loss.name}'s example should quote {word}"


@pytest.mark.parametrize("command", HELP_EXAMPLES)
def test_help_examples_run(command):
    r = run(*shlex.split(command)[1:])
    assert r.exit_code == 0, r.stderr
    assert r.stdout


@pytest.mark.parametrize("loss", LOSSES, ids=NAMES)
def test_format_value_prints_only_numbers(loss):
    r = run(loss.name, *shlex.split(loss.example), "--format", "value")
    assert r.exit_code == 0, r.stderr
    for word in r.stdout.split():
        float(word)  # numbers only: nan, inf and -inf included


def readme_commands() -> list[tuple[str, list[str] | None]]:
    """(command, expected output or None) for each `$ ` line of ```console blocks and each
    `losscalc` command of ```bash blocks, in README order."""
    found = []
    for lang, body in re.findall(r"^```(\w+)\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S):
        if lang == "bash":
            for line in body.splitlines():  # `pip install . && losscalc ...`: the losscalc part
                if line.startswith("losscalc ") or " && losscalc " in line:
                    found.append(("losscalc " + line.split("losscalc ", 1)[1], None))
        elif lang == "console":
            for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
                command, *output = chunk.rstrip("\n").split("\n")
                found.append((command, [line.rstrip() for line in output] or None))
    return found


def test_readme_starts_with_the_two_set_up_commands():
    first_block = re.search(r"^```\w+\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S).group(1)
    lines = first_block.splitlines()
    assert lines[0].startswith("pip install . && losscalc ")
    assert lines[1] == "pip install '.[test]' && python -m pytest"


def test_readme_examples_run_and_print_what_the_readme_shows(tmp_path):
    commands = readme_commands()
    assert len(commands) >= 8
    env = shell_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    skipped = []
    for command, expected in commands:
        assert not re.match(r"(pip|python -m pytest)\b", command), f"README runs {command!r}"
        if "| jq" in command and shutil.which("jq") is None:
            skipped.append(command)
            continue
        r = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{command}\n{r.stderr}"
        if expected is not None:
            assert [line.rstrip() for line in r.stdout.rstrip("\n").split("\n")] == expected, command
    if skipped:
        pytest.skip(f"jq is not installed: {skipped}")


# Start-up: a scripted call imports neither rich nor the docs ------------------------------


def test_a_value_call_imports_nothing_heavy():
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "losscalc", "mse", "1,2", "0,0", "--format", "value"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and r.stdout == "2.5\n"
    modules = [line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")]
    heavy = [m for m in modules if m.split(".")[0] == "rich" or m in ("losscalc.docs", "click.shell_completion")]
    assert heavy == []


def test_every_kernel_docstring_names_each_parameter_in_its_args_section():
    """Issue 10: help(losscalc.kernels.regression.huber) documents `weight`, and so on: every
    registered kernel's docstring has an Args section with a line for each of its parameters,
    tensors and options alike, and for nothing else."""
    import inspect

    for loss in losses():
        args = loss.section("Args")
        named = {n for line in args.splitlines() if not line.startswith(" ") and ":" in line
                 for n in line.split(":")[0].split(", ")}
        params = set(inspect.signature(loss.kernel).parameters)
        assert named == params, (loss.name, sorted(params - named), sorted(named - params))
