"""The coordinator: both devices read concurrently, in one polling epoch, every interval.

Each device is read on its own: one device failing (dead, slow, refusing the password, or
replying with something the client chokes on) makes only that device's entities unavailable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
import time
from typing import cast, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    CONF_INDEVOLT_GENERATION,
    CONF_INDEVOLT_MAX_CHARGE_W,
    CONF_INDEVOLT_MAX_DISCHARGE_W,
    CONF_INDEVOLT_SERIAL,
    CONF_P1_KEYS,
    CONF_P1_SERIAL,
    CONF_POLL_INTERVAL,
    DEFAULT_OPTIONS,
    DOMAIN,
    LOGGER,
)
from .device_readback import DeviceReadback
from .devices.errors import AuthenticationError, DeviceError, P1ApiDisabledError
from .devices.indevolt import BatterySnapshot, IndevoltClient, IndevoltDeviceInfo, WorkingMode
from .devices.indevolt_registers import PowerLimit, generation_of
from .devices.p1 import P1Client, P1Data, P1Device
from .mode_tracker import WorkingModeTracker
from .reconciliation import Reconciler, Reconciliation
from .repair_issues import RepairIssues

# Each device must answer within this share of the poll interval, so a dead device cannot
# delay the next epoch; the cap keeps a long interval from waiting on a hung device for long.
TIMEOUT_SHARE_OF_INTERVAL = 0.8
MAX_DEVICE_TIMEOUT_S = 8.0


class DifferentBatteryError(Exception):
    """Another battery than the entry's answers at its address: it must not be commanded."""


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


def reported_keys(p1: P1Data) -> list[str]:
    """The keys the meter reports, sorted; a key sent with a value that is no reading counts.

    Its sensor exists (unknown) rather than appearing only once the value is good.
    """
    return sorted({key for key, value in p1.values.items() if value is not None} | p1.invalid_keys)


def is_different_battery(stored_serial: str, info: IndevoltDeviceInfo) -> bool:
    """True when `info` proves another battery than the stored one answers.

    A serial that fell back to the MAC (register 0 missing after a firmware update) proves
    nothing, and an entry created during such a fallback stored the MAC as its serial.
    """
    if info.serial == info.mac:
        return False
    return stored_serial not in (info.serial, info.mac)


class EmsCoordinator(DataUpdateCoordinator[EmsData]):
    """Polls the P1 meter and the Indevolt together and keeps what the entities show."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
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
        # Each device's identity as read from it; None while it has not answered since set-up.
        self.p1_device: P1Device | None = None
        self.battery_info: IndevoltDeviceInfo | None = None
        self._identity_read_early: IndevoltDeviceInfo | None = None
        # Every read and write of the Indevolt goes through this lock, so a poll never
        # interleaves with a mode switch and its command.
        self.battery_lock = asyncio.Lock()
        self.last_cycle_s: float | None = None
        self._reconciler = Reconciler()
        self._repair_issues = RepairIssues(hass, entry)
        self._available = {"p1": True, "battery": True}
        self._reauth_started = False
        self._epoch_started: float | None = None
        # The working mode from the polls and ems's own writes (the controller notes those).
        self.mode_tracker = WorkingModeTracker()
        # Battery reads completed since set-up, and what ems wrote compared with them.
        self.battery_reads = 0
        self.readback = DeviceReadback()
        self.set_poll_interval(interval_s)

    @property
    def p1_serial(self) -> str:
        """The P1 meter's serial stored at set-up: what its ids are keyed on."""
        return str(self.config_entry.data[CONF_P1_SERIAL])

    @property
    def battery_serial(self) -> str:
        """The entry's unique id (the battery serial at creation): what its ids are keyed on."""
        return self.config_entry.unique_id or str(self.config_entry.data[CONF_INDEVOLT_SERIAL])

    @property
    def stored_p1_keys(self) -> list[str]:
        """The keys the P1 meter reported at the last successful poll (of any earlier run)."""
        return list(self.config_entry.data.get(CONF_P1_KEYS, []))

    def set_poll_interval(self, interval_s: float) -> None:
        """Apply a new poll interval (and the device timeouts that follow from it)."""
        self.update_interval = timedelta(seconds=interval_s)
        self.p1.timeout_s = self.indevolt.timeout_s = device_timeout_s(interval_s)

    @property
    def known_working_mode(self) -> WorkingMode | None:
        """The working mode as last polled, or as last written successfully since then."""
        return self.mode_tracker.known

    @override
    def _schedule_refresh(self) -> None:
        """Start the next epoch one interval after the last one STARTED.

        The base class counts the interval from the end of a refresh, so a device that takes
        its whole timeout to answer would stretch the other device's cadence by that much.
        """
        interval = self.update_interval
        if interval is not None and self._epoch_started is not None and self._retry_after is None:
            # The base class schedules at int(now) + its fixed sub-second offset + the delay.
            loop_now = int(self.hass.loop.time()) + self._microsecond
            self._retry_after = max(self._epoch_started + interval.total_seconds() - loop_now, 0)
        super()._schedule_refresh()

    @override
    async def _async_setup(self) -> None:
        """Read each device's identity; one answering is enough to load."""
        p1_result, battery_result = await asyncio.gather(
            self.p1.get_device(), self._read_battery_info(), return_exceptions=True
        )
        _reraise_cancellation(p1_result, battery_result)
        if isinstance(p1_result, P1Device):
            self.p1_device = p1_result
        elif isinstance(p1_result, P1ApiDisabledError):
            self._repair_issues.update_p1(api_disabled=True, answered=False)
        if isinstance(battery_result, IndevoltDeviceInfo):
            if self._check_battery(battery_result):
                raise ConfigEntryError(
                    translation_domain=DOMAIN,
                    translation_key="different_battery",
                    translation_placeholders={"host": self.indevolt.host},
                )
            self._adopt_battery_info(battery_result)
        if self.p1_device is not None or self.battery_info is not None:
            return  # the first refresh logs the device that did not answer
        if isinstance(battery_result, AuthenticationError):
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from battery_result
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="both_unavailable",
            translation_placeholders={
                "p1_error": _describe(p1_result) or "",
                "battery_error": _describe(battery_result) or "",
            },
        )

    def _check_battery(self, info: IndevoltDeviceInfo) -> bool:
        """Compare the answering battery with the entry's; True (and a repair) when different."""
        different = is_different_battery(self.battery_serial, info)
        self._repair_issues.update_different_battery(
            different, host=self.indevolt.host, found_serial=info.serial
        )
        return different

    async def async_is_different_battery(self) -> bool:
        """Read the battery's identity ahead of the first poll: True when another one answers.

        For the controller, which undoes a command left behind before the first poll and must
        not write to another battery. The identity read is kept for `_async_setup`. Raises
        `DeviceError` when the Indevolt does not answer.
        """
        info = await self._read_battery_info()
        self._identity_read_early = info
        return self._check_battery(info)

    async def _read_battery_info(self) -> IndevoltDeviceInfo:
        if (info := self._identity_read_early) is not None:
            self._identity_read_early = None
            return info
        async with self.battery_lock:
            return await self.indevolt.get_config()

    @override
    async def _async_update_data(self) -> EmsData:
        """Fetch both devices concurrently; fail only when both fail."""
        self._epoch_started = self.hass.loop.time()
        started = time.monotonic()
        mode_writes_before = self.mode_tracker.writes
        p1_result, battery_result = await asyncio.gather(
            self._read_p1(), self._read_battery(), return_exceptions=True
        )
        self.last_cycle_s = time.monotonic() - started
        _reraise_cancellation(p1_result, battery_result)

        p1 = p1_result if isinstance(p1_result, P1Data) else None
        battery = battery_result if isinstance(battery_result, BatterySnapshot) else None
        self._follow_authentication(battery_result)
        p1_error = self._note_result("p1", f"P1 meter at {self.p1.host}", p1_result)
        battery_error = self._note_result(
            "battery", f"Indevolt at {self.indevolt.host}", battery_result
        )
        self._repair_issues.update_p1(
            api_disabled=isinstance(p1_result, P1ApiDisabledError), answered=p1 is not None
        )
        if p1 is None and battery is None:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="both_unavailable",
                translation_placeholders={
                    "p1_error": p1_error or "",
                    "battery_error": battery_error or "",
                },
            )
        if p1 is not None:
            self._remember_p1_keys(p1)
        if battery is not None:
            self.mode_tracker.note_polled(
                battery.working_mode, writes_before_poll=mode_writes_before
            )
            for warning in self.readback.check(battery, self.battery_reads):
                LOGGER.warning(warning)
            self._store_power_limits(battery)
        reconciliation = self._reconciler.update(
            started,
            None if p1 is None else p1.active_power_w,
            None if battery is None else battery.meter_power_w,
            meter_connected=None if battery is None else battery.meter_connected,
        )
        self._repair_issues.update(now_s=started, battery=battery, reconciliation=reconciliation)
        return EmsData(p1, battery, reconciliation, p1_error, battery_error)

    async def _read_p1(self) -> P1Data:
        if self.p1_device is None:
            # Not read at set-up: its sensors added from now on carry its name and model.
            self.p1_device = await self.p1.get_device()
        return await self.p1.get_data()

    async def _read_battery(self) -> BatterySnapshot:
        async with self.battery_lock:
            if self.battery_info is None:
                # Not read at set-up: check that it is still the entry's battery before use.
                info = await self.indevolt.get_config()
                if self._check_battery(info):
                    self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
                    raise DifferentBatteryError("a different battery answers at this address")
                self._adopt_battery_info(info)
            snapshot = await self.indevolt.get_data()
            self.battery_reads += 1
            return snapshot

    def _store_power_limits(self, battery: BatterySnapshot) -> None:
        """Keep the device's charge and discharge limits in the entry when they change."""
        generation = self.indevolt.generation
        limits = {
            CONF_INDEVOLT_MAX_CHARGE_W: battery.power_limit_w(PowerLimit.CHARGE, generation),
            CONF_INDEVOLT_MAX_DISCHARGE_W: battery.power_limit_w(PowerLimit.DISCHARGE, generation),
        }
        data = self.config_entry.data
        if any(data.get(key) != value for key, value in limits.items()):
            self.hass.config_entries.async_update_entry(self.config_entry, data={**data, **limits})

    def _adopt_battery_info(self, info: IndevoltDeviceInfo) -> None:
        """Keep the battery's identity; read its generation's registers, stored in the entry."""
        self.battery_info = info
        generation = generation_of(info.model)
        self.indevolt.generation = generation
        if self.config_entry.data.get(CONF_INDEVOLT_GENERATION) != generation:
            self.hass.config_entries.async_update_entry(
                self.config_entry,
                data={**self.config_entry.data, CONF_INDEVOLT_GENERATION: generation},
            )

    def _follow_authentication(self, battery_result: object) -> None:
        """Ask the owner for the password once while the Indevolt refuses it; keep polling."""
        if isinstance(battery_result, AuthenticationError):
            if not self._reauth_started:
                self._reauth_started = True
                self.config_entry.async_start_reauth(self.hass)
        elif isinstance(battery_result, BatterySnapshot):
            self._reauth_started = False

    def _remember_p1_keys(self, p1: P1Data) -> None:
        """Store the keys the meter reports, to create its sensors when it is down at start."""
        keys = reported_keys(p1)
        if keys != self.stored_p1_keys:
            self.hass.config_entries.async_update_entry(
                self.config_entry, data={**self.config_entry.data, CONF_P1_KEYS: keys}
            )

    def _note_result(self, key: str, name: str, result: object) -> str | None:
        """The device's error text (None when it answered), logged once per episode."""
        error = _describe(result)
        if error is not None and self._available[key]:
            self._available[key] = False
            if isinstance(result, DeviceError | DifferentBatteryError):
                LOGGER.warning("%s is unavailable: %s", name, error)
            else:
                # A bug or a reply the client choked on: one line, the traceback for debugging.
                LOGGER.error("%s is unavailable: %s", name, error)
                LOGGER.debug(
                    "Traceback of the failed read of %s", name, exc_info=cast(Exception, result)
                )
        elif error is None and not self._available[key]:
            self._available[key] = True
            LOGGER.info("%s is available again", name)
        return error


def _reraise_cancellation(*results: object) -> None:
    """Re-raise what is not a failure of a device (cancellation, interpreter exit)."""
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result


def _describe(result: object) -> str | None:
    """A short text for a failed fetch, None for a successful one."""
    if isinstance(result, DeviceError | DifferentBatteryError):
        return str(result) or type(result).__name__
    if isinstance(result, Exception):
        return f"unexpected {type(result).__name__}: {result}"[:200]
    return None
