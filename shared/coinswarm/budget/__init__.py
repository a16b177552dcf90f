"""The free-tier budget: a month of usage projected from the configuration, against every free-tier
quota the deployment touches (`coinswarm budget`). Pure: nothing here does I/O."""

from coinswarm.budget.model import Budget, Line, Trap, project

__all__ = ["Budget", "Line", "Trap", "project"]
