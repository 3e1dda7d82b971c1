"""What antifraud does, one function per use case: views, consumers and workers call these.

Each takes the service context (``Antifraud``) and the caller's session, writes its rows and its
events in that session's transaction and leaves the commit to the caller. None knows about HTTP:
a business refusal is a ``gamekeys_platform.refusals.Refusal`` (the app answers it as its §3
code), and the domain's own exceptions are translated to one where a use case meets them.
"""

from antifraud.usecases.analysis import Assessment, assess
from antifraud.usecases.blocks import add_block, block_activity, lift_block
from antifraud.usecases.cases import decide_case
from antifraud.usecases.rules import backtest_rules, compiled_rules, put_rules

__all__ = [
    "Assessment",
    "add_block",
    "assess",
    "backtest_rules",
    "block_activity",
    "compiled_rules",
    "decide_case",
    "lift_block",
    "put_rules",
]
