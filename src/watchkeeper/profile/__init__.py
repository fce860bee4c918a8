"""``wk profile``: where a Python process spends its time, sampled with py-spy (its PyPI
wheel ships the binary) without touching the program.

    stacks.py       collapsed stacks: parse, self and total time per function
    flame.py        an SVG flame graph (self-contained; each frame's share in its tooltip)
    speedscope.py   the speedscope JSON format (https://www.speedscope.app)
    spy.py          running py-spy on a PID or a command, its failures as one line
    findings.py     the top functions as a Finding
"""
