"""Pieces both sandboxes share: a speedable clock, a threaded loopback server, fault injection, call counters."""

from sandbox.common.clock import Clock
from sandbox.common.counters import CallCounters
from sandbox.common.faults import FaultInjector, FaultRule
from sandbox.common.server import ServerThread

__all__ = ["CallCounters", "Clock", "FaultInjector", "FaultRule", "ServerThread"]
