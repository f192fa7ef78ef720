"""The coordinator: both devices read concurrently, in one polling epoch, every interval."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
import time
from typing import TYPE_CHECKING, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import CONF_POLL_INTERVAL, DEFAULT_OPTIONS, DOMAIN, LOGGER
from .devices.errors import AuthenticationError, DeviceError, P1ApiDisabledError
from .devices.indevolt import BatterySnapshot, IndevoltClient, IndevoltDeviceInfo, WorkingMode
from .devices.p1 import P1Client, P1Data, P1Device
from .reconciliation import Reconciler, Reconciliation
from .repair_issues import RepairIssues

if TYPE_CHECKING:
    from .controller import BatteryController
    from .optimiser import Optimiser

# Each device must answer within this share of the poll interval, so a dead device cannot
# delay the next epoch; the cap keeps a long interval from waiting on a hung device for long.
TIMEOUT_SHARE_OF_INTERVAL = 0.8
MAX_DEVICE_TIMEOUT_S = 8.0

type EmsConfigEntry = ConfigEntry[EmsRuntimeData]


@dataclass(frozen=True, slots=True)
class EmsData:
    """One polling epoch: each device's reading (None when it failed) and their comparison."""

    p1: P1Data | None
    battery: BatterySnapshot | None
    reconciliation: Reconciliation
    p1_error: str | None = None
    battery_error: str | None = None


def device_timeout_s(poll_interval_s: float) -> float:
    """The per-device request timeout for a poll interval."""
    return min(poll_interval_s * TIMEOUT_SHARE_OF_INTERVAL, MAX_DEVICE_TIMEOUT_S)


class EmsCoordinator(DataUpdateCoordinator[EmsData]):
    """Polls the P1 meter and the Indevolt together and keeps what the entities show."""

    config_entry: EmsConfigEntry
    p1_device: P1Device
    battery_info: IndevoltDeviceInfo

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EmsConfigEntry,
        p1: P1Client,
        indevolt: IndevoltClient,
    ) -> None:
        """Set up the coordinator for one home (one entry)."""
        interval_s = float(
            entry.options.get(CONF_POLL_INTERVAL, DEFAULT_OPTIONS[CONF_POLL_INTERVAL])
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=timedelta(seconds=interval_s),
            always_update=True,
        )
        self.p1 = p1
        self.indevolt = indevolt
        # Every read and write of the Indevolt goes through this lock, so a poll never
        # interleaves with a mode switch and its command.
        self.battery_lock = asyncio.Lock()
        self.last_cycle_s: float | None = None
        self._reconciler = Reconciler()
        self._repair_issues = RepairIssues(hass, entry)
        self._available = {"p1": True, "battery": True}
        self._known_working_mode: WorkingMode | None = None
        self._mode_write_count = 0
        # The last successful 47005 write: (its number since set-up, the mode written).
        self.last_mode_write: tuple[int, WorkingMode] | None = None
        self._polled_once = False
        self.set_poll_interval(interval_s)

    def set_poll_interval(self, interval_s: float) -> None:
        """Apply a new poll interval (and the device timeouts that follow from it)."""
        self.update_interval = timedelta(seconds=interval_s)
        self.p1.timeout_s = self.indevolt.timeout_s = device_timeout_s(interval_s)

    @property
    def known_working_mode(self) -> WorkingMode | None:
        """The working mode as last polled, or as last written successfully since then."""
        return self._known_working_mode

    def note_working_mode_written(self, mode: WorkingMode) -> None:
        """Record a successful 47005 write (call with the battery lock held)."""
        self._known_working_mode = mode
        self._mode_write_count += 1
        self.last_mode_write = (self._mode_write_count, mode)

    @override
    async def _async_setup(self) -> None:
        """Read both devices' identities once, for the device registry."""
        try:
            self.p1_device, self.battery_info = await asyncio.gather(
                self.p1.get_device(), self._read_battery_info()
            )
        except AuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except DeviceError as err:
            if isinstance(err, P1ApiDisabledError):
                self._repair_issues.update_p1(api_disabled=True, answered=False)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="setup_failed",
                translation_placeholders={"error": str(err) or type(err).__name__},
            ) from err

    async def _read_battery_info(self) -> IndevoltDeviceInfo:
        async with self.battery_lock:
            return await self.indevolt.get_config()

    @override
    async def _async_update_data(self) -> EmsData:
        """Fetch both devices concurrently; fail only when both fail (or at first refresh)."""
        started = time.monotonic()
        writes_before = self._mode_write_count
        p1_result, battery_result = await asyncio.gather(
            self.p1.get_data(), self._read_battery(), return_exceptions=True
        )
        self.last_cycle_s = time.monotonic() - started

        if isinstance(battery_result, AuthenticationError):
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from battery_result
        for result in (p1_result, battery_result):
            if isinstance(result, BaseException) and not isinstance(result, DeviceError):
                raise result
        p1 = p1_result if isinstance(p1_result, P1Data) else None
        battery = battery_result if isinstance(battery_result, BatterySnapshot) else None
        p1_error = _describe(p1_result)
        battery_error = _describe(battery_result)
        self._repair_issues.update_p1(
            api_disabled=isinstance(p1_result, P1ApiDisabledError), answered=p1 is not None
        )

        if not self._polled_once and (p1_error or battery_error):
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="first_refresh_failed",
                translation_placeholders={
                    "device": "P1" if p1_error else "Indevolt",
                    "error": p1_error or battery_error or "",
                },
            )
        self._log_availability("p1", f"P1 meter at {self.p1.host}", p1_error)
        self._log_availability("battery", f"Indevolt at {self.indevolt.host}", battery_error)
        if p1 is None and battery is None:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="both_unavailable",
                translation_placeholders={
                    "p1_error": p1_error or "",
                    "battery_error": battery_error or "",
                },
            )
        # A poll that started before the last mode write may carry the old 7101: keep the write.
        if battery is not None and writes_before == self._mode_write_count:
            self._known_working_mode = battery.working_mode
        reconciliation = self._reconciler.update(
            started,
            None if p1 is None else p1.active_power_w,
            None if battery is None else battery.meter_power_w,
        )
        self._repair_issues.update(now_s=started, battery=battery, reconciliation=reconciliation)
        self._polled_once = True
        return EmsData(p1, battery, reconciliation, p1_error, battery_error)

    async def _read_battery(self) -> BatterySnapshot:
        async with self.battery_lock:
            return await self.indevolt.get_data()

    def _log_availability(self, key: str, name: str, error: str | None) -> None:
        """Log once when a device becomes unavailable and once when it is back."""
        if error is not None and self._available[key]:
            self._available[key] = False
            LOGGER.warning("%s is unavailable: %s", name, error)
        elif error is None and not self._available[key]:
            self._available[key] = True
            LOGGER.info("%s is available again", name)


def _describe(result: object) -> str | None:
    """A short text for a failed fetch, None for a successful one."""
    if isinstance(result, DeviceError):
        return str(result) or type(result).__name__
    return None


@dataclass(slots=True)
class EmsRuntimeData:
    """What an entry keeps while it is loaded (`entry.runtime_data`)."""

    coordinator: EmsCoordinator
    controller: BatteryController
    optimiser: Optimiser
