"""Write tests/snapshots/*.txt: the tables of tests/render/test_table.py at 60, 80 and 120
columns, as losscalc draws them now (run after a deliberate change of the layout, then read
the diff). python -m tests.make_snapshots"""

from pathlib import Path

from tests.render.test_table import CASES, draw

HERE = Path(__file__).parent / "snapshots"

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, args in CASES.items():
        for width in (60, 80, 120):
            (HERE / f"{name}-{width}.txt").write_text(draw(args, width))
