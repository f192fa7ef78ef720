"""What a loaded entry keeps (`entry.runtime_data`) and the entry type that carries it."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .controller import BatteryController
from .coordinator import EmsCoordinator
from .optimiser import Optimiser

type EmsConfigEntry = ConfigEntry[EmsRuntimeData]


@dataclass(slots=True)
class EmsRuntimeData:
    """The coordinator, the controller and the optimiser of one loaded entry."""

    coordinator: EmsCoordinator
    controller: BatteryController
    optimiser: Optimiser
