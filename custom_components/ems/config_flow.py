"""Config flow: two addresses, both devices tested before an entry is created."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .address import format_address, parse_address
from .const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_INDEVOLT_SERIAL,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
    CONF_REQUEST_METHOD,
    DEFAULT_OPTIONS,
    DOMAIN,
    INDEVOLT_DEFAULT_PORT,
    LOGGER,
    P1_DEFAULT_PORT,
)
from .devices.errors import AuthenticationError, DeviceError, P1ApiDisabledError
from .devices.indevolt import IndevoltClient, IndevoltDeviceInfo
from .devices.p1 import P1Client, P1Device
from .discovery import DiscoveryFlow
from .options import (
    CLEARABLE_OPTIONS,
    OptionsValidationError,
    entry_options,
    flattened,
    options_schema,
    sectioned,
    validate_options,
)

# Set-up waits a little longer than a poll would: the user is looking at a form, not a dashboard.
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ConnectedDevices:
    """What a successful connection test learned."""

    p1: P1Device
    battery: IndevoltDeviceInfo
    request_method: str


class CannotConnectError(Exception):
    """A connection test failed; `errors` maps form fields to translation keys."""

    def __init__(self, errors: dict[str, str]) -> None:
        """Keep the per-field errors."""
        super().__init__(errors)
        self.errors = errors


async def _test_p1(client: P1Client) -> P1Device:
    try:
        device = await client.get_device()
        await client.get_data()
    except P1ApiDisabledError as err:
        raise CannotConnectError({CONF_P1_HOST: "api_disabled"}) from err
    except DeviceError as err:
        LOGGER.debug("P1 connection test failed: %s", err)
        raise CannotConnectError({CONF_P1_HOST: "cannot_connect"}) from err
    return device


async def _test_indevolt(client: IndevoltClient) -> tuple[IndevoltDeviceInfo, str]:
    try:
        method = await client.probe_method()
        info = await client.get_config()
    except AuthenticationError as err:
        raise CannotConnectError({CONF_INDEVOLT_PASSWORD: "invalid_auth"}) from err
    except DeviceError as err:
        LOGGER.debug("Indevolt connection test failed: %s", err)
        raise CannotConnectError({CONF_INDEVOLT_HOST: "cannot_connect"}) from err
    return info, method


class EmsConfigFlow(DiscoveryFlow, domain=DOMAIN):
    """Set up one home: a P1 meter and an Indevolt battery."""

    VERSION = 1
    MINOR_VERSION = 2

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> EmsOptionsFlow:
        """The options flow."""
        return EmsOptionsFlow()

    async def _async_connect(self, user_input: Mapping[str, Any]) -> ConnectedDevices:
        """Test the P1 meter, then the Indevolt; raise CannotConnectError with per-field errors."""
        errors: dict[str, str] = {}
        addresses: dict[str, tuple[str, int]] = {}
        for field, port in (
            (CONF_P1_HOST, P1_DEFAULT_PORT),
            (CONF_INDEVOLT_HOST, INDEVOLT_DEFAULT_PORT),
        ):
            try:
                addresses[field] = parse_address(user_input[field], port)
            except ValueError:
                errors[field] = "invalid_host"
        if errors:
            raise CannotConnectError(errors)
        session = async_get_clientsession(self.hass)
        p1 = P1Client(session, *addresses[CONF_P1_HOST], timeout_s=CONNECT_TIMEOUT_S)
        indevolt = IndevoltClient(
            session,
            *addresses[CONF_INDEVOLT_HOST],
            password=user_input.get(CONF_INDEVOLT_PASSWORD) or None,
            timeout_s=CONNECT_TIMEOUT_S,
        )
        p1_device: P1Device | None = None
        battery: tuple[IndevoltDeviceInfo, str] | None = None
        try:
            p1_device = await _test_p1(p1)
            battery = await _test_indevolt(indevolt)
        except CannotConnectError as err:
            errors.update(err.errors)
        except Exception:  # noqa: BLE001 - any surprise becomes the form's "unknown" error
            LOGGER.exception("Unexpected error while testing the devices")
            errors["base"] = "unknown"
        if errors or p1_device is None or battery is None:
            raise CannotConnectError(errors)
        return ConnectedDevices(p1_device, *battery)

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for both addresses (and the Indevolt password, if the owner set one)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                devices = await self._async_connect(user_input)
            except CannotConnectError as err:
                errors = err.errors
            else:
                await self.async_set_unique_id(devices.battery.serial, raise_on_progress=False)
                self._abort_if_unique_id_configured()
                self._abort_if_p1_configured(devices.p1.serial)
                return self._async_create(user_input, devices)
        suggested = {**self._discovered_addresses(), **(user_input or {})}
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_address_schema(), suggested),
            errors=errors,
        )

    def _abort_if_p1_configured(self, p1_serial: str, *, except_entry: str | None = None) -> None:
        """Abort when another entry has this P1 meter.

        Two entries of one meter would show its readings twice and let two optimisers shave
        the same peak.
        """
        for entry in self._async_current_entries(include_ignore=False):
            if entry.entry_id != except_entry and entry.data.get(CONF_P1_SERIAL) == p1_serial:
                raise AbortFlow("p1_already_configured")

    def _async_update_and_finish(
        self, entry: ConfigEntry, data_updates: Mapping[str, Any], *, reload_if_unchanged: bool
    ) -> ConfigFlowResult:
        """Update `entry` without ending what its battery does.

        A loaded entry applies the change itself (its update listener moves the clients in
        place, and reloads only for a new password); an entry that is not loaded (waiting to
        retry, or failed) is reloaded to try again, as is a loaded one when
        `reload_if_unchanged` and nothing changed (re-authentication with the same password).
        """
        changed = self.hass.config_entries.async_update_entry(
            entry, data={**entry.data, **data_updates}
        )
        loaded = entry.state is ConfigEntryState.LOADED
        if not loaded or (reload_if_unchanged and not changed):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_update_and_abort(entry)

    def _async_create(
        self, user_input: Mapping[str, Any], devices: ConnectedDevices
    ) -> ConfigFlowResult:
        data = _entry_data(user_input, devices)
        options = dict(DEFAULT_OPTIONS)
        options[CONF_REQUEST_METHOD] = devices.request_method
        title = f"{devices.battery.model or 'Indevolt'} + P1 meter"
        self._async_abort_p1_offer(devices.p1.serial)
        return self.async_create_entry(title=title, data=data, options=options)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the addresses of the same two devices."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            merged = {CONF_INDEVOLT_PASSWORD: entry.data.get(CONF_INDEVOLT_PASSWORD), **user_input}
            try:
                devices = await self._async_connect(merged)
            except CannotConnectError as err:
                errors = err.errors
            else:
                await self.async_set_unique_id(devices.battery.serial)
                self._abort_if_unique_id_mismatch(reason="wrong_device")
                self._abort_if_p1_configured(devices.p1.serial, except_entry=entry.entry_id)
                if devices.p1.serial != entry.data.get(CONF_P1_SERIAL):
                    return self.async_abort(reason="wrong_p1_device")
                return self._async_update_and_finish(
                    entry, _entry_data(merged, devices), reload_if_unchanged=False
                )
        suggested = user_input or {
            CONF_P1_HOST: entry.data[CONF_P1_HOST],
            CONF_INDEVOLT_HOST: entry.data[CONF_INDEVOLT_HOST],
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _address_schema(with_password=False), suggested
            ),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The Indevolt asked for a (new) password."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the Indevolt password and test it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = parse_address(entry.data[CONF_INDEVOLT_HOST], INDEVOLT_DEFAULT_PORT)
            client = IndevoltClient(
                async_get_clientsession(self.hass),
                host,
                port,
                password=user_input.get(CONF_INDEVOLT_PASSWORD) or None,
                method=entry_options(entry)[CONF_REQUEST_METHOD],
                timeout_s=CONNECT_TIMEOUT_S,
            )
            try:
                info, _ = await _test_indevolt(client)
            except CannotConnectError as err:
                errors = err.errors
            else:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_mismatch(reason="wrong_device")
                return self._async_update_and_finish(
                    entry,
                    {CONF_INDEVOLT_PASSWORD: user_input.get(CONF_INDEVOLT_PASSWORD) or None},
                    reload_if_unchanged=True,
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=probatio.Schema(
                {probatio.Optional(CONF_INDEVOLT_PASSWORD): _password_selector()}
            ),
            description_placeholders={"host": entry.data[CONF_INDEVOLT_HOST]},
            errors=errors,
        )


def _password_selector() -> TextSelector:
    return TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


def _address_schema(*, with_password: bool = True) -> probatio.Schema:
    schema: dict[probatio.Marker, object] = {
        probatio.Required(CONF_P1_HOST): TextSelector(),
        probatio.Required(CONF_INDEVOLT_HOST): TextSelector(),
    }
    if with_password:
        schema[probatio.Optional(CONF_INDEVOLT_PASSWORD)] = _password_selector()
    return probatio.Schema(schema)


def _entry_data(user_input: Mapping[str, Any], devices: ConnectedDevices) -> dict[str, Any]:
    return {
        CONF_P1_HOST: format_address(user_input[CONF_P1_HOST]),
        CONF_INDEVOLT_HOST: format_address(user_input[CONF_INDEVOLT_HOST]),
        CONF_INDEVOLT_PASSWORD: user_input.get(CONF_INDEVOLT_PASSWORD) or None,
        CONF_P1_SERIAL: devices.p1.serial,
        CONF_INDEVOLT_SERIAL: devices.battery.serial,
        CONF_REQUEST_METHOD: devices.request_method,
    }


class EmsOptionsFlow(OptionsFlow):
    """Poll interval, battery limits and the request method; applied without a reload."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form with every option, in sections; the options are stored flat."""
        errors: dict[str, str] = {}
        current = entry_options(self.config_entry)
        if user_input is not None:
            try:
                # A cleared optional field is left out of the form's input: clear it here.
                options = validate_options(
                    {**current, **dict.fromkeys(CLEARABLE_OPTIONS), **flattened(user_input)}
                )
            except OptionsValidationError as err:
                errors = {err.field: err.error}
            else:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(), user_input or sectioned(current)
            ),
            errors=errors,
        )
