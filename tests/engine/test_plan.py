"""engine/plan.py: the chunk size, LOSSCALC_CHUNK_ELEMENTS, must be a whole number of 1 or more
(SPEC §9). That the answers do not depend on it is tests/test_invariants.py's."""

from click.testing import CliRunner

from losscalc.cli import cli


def test_chunk_elements_must_be_a_whole_number(monkeypatch):
    for bad in ("0", "-3", "1.5", "many"):
        r = CliRunner().invoke(cli, ["mse", "1,2", "0,0"], env={"LOSSCALC_CHUNK_ELEMENTS": bad})
        assert r.exit_code == 2 and "LOSSCALC_CHUNK_ELEMENTS" in r.stderr, (bad, r.output)
