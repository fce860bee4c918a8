"""``wk assess``: the maintainer's way of working as one command. It assesses what runs now
(states, SLOs, drift, advisors, audits, backups, a capacity probe, the bill), ranks what to do
first by risk × impact ÷ effort, keeps the numbers as a baseline, and says what improved or
regressed since the last one saved.

    run.py       the parts, run at once, into one ranked Assessment
    gather.py    each part as a Section: findings with links, baseline facts, errors
    costs.py     the cost part (``watchkeeper.cost``)
    items.py     an Item: a Finding with its risk, impact, effort and score
    baseline.py  save and compare
    render.py    text, Markdown, HTML, JSON
"""

from watchkeeper.assess.run import Assessment, Request, assess

__all__ = ["Assessment", "Request", "assess"]
