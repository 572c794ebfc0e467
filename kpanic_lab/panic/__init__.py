"""The panic path observed stage by stage: scenarios, the session that steps them, traces."""
from kpanic_lab.panic.scenarios import SCENARIOS, Scenario, UnknownScenario, get_scenario
from kpanic_lab.panic.session import PanicSession, ScenarioError
from kpanic_lab.panic.trace import CpuState, NotifierCall, StageRecord, Trace

__all__ = ["SCENARIOS", "Scenario", "UnknownScenario", "get_scenario", "PanicSession", "ScenarioError",
           "CpuState", "NotifierCall", "StageRecord", "Trace"]
