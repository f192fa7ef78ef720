"""Development-only simulator of a HomeWizard P1 meter and an Indevolt PowerFlex2000.

Run it with `python -m ems_simulator --p1-port 8001 --indevolt-port 8002`, or serve it inside a
test's event loop:

    sim = Simulator(clock=fake_clock)
    async with serve(sim) as running:   # 127.0.0.1, free ports
        ... running.p1_url, running.indevolt_url, sim.indevolt_faults.off = True ...

See docs/simulator.md.
"""

from .faults import Faults
from .indevolt_device import DeviceSettings
from .model import HomeModel
from .server import RequestRecord, RunningSimulator, Simulator, serve

__all__ = [
    "DeviceSettings",
    "Faults",
    "HomeModel",
    "RequestRecord",
    "RunningSimulator",
    "Simulator",
    "serve",
]
