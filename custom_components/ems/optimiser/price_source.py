"""Read day-ahead prices from a Home Assistant price entity, whatever integration provides it.

Most price integrations put the prices in their sensor's attributes (Nord Pool HACS, ENTSO-E,
Frank Energie, Zonneplan): those are parsed on every read, which is cheap and always current.
Core Nord Pool, EnergyZero and Tibber keep them behind an action instead; for an entity of one
of those (found through the entity registry) the action is called with `return_response`, the
result kept, and called again while the prices do not cover the current quarter or, once
tomorrow's prices are due, the end of tomorrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from ..const import LOGGER
from .price_slots import PriceSlot, covers_until
from .prices import PriceSource, parse_prices, parse_unit

# Day-ahead prices are published around 13:00 CET; asking for tomorrow earlier is pointless.
TOMORROW_DUE_HOUR: Final = 12
# Ask an action again at most this often while tomorrow is missing (it may reach a cloud API).
REFETCH_INTERVAL: Final = timedelta(minutes=15)

NORDPOOL_DOMAIN: Final = "nordpool"
ENERGYZERO_DOMAIN: Final = "energyzero"
TIBBER_DOMAIN: Final = "tibber"
ACTION_DOMAINS: Final = frozenset({NORDPOOL_DOMAIN, ENERGYZERO_DOMAIN, TIBBER_DOMAIN})


class PriceStatus(StrEnum):
    """Whether prices could be read."""

    OK = "ok"
    # The entity does not exist (yet), or its action failed and nothing was kept.
    UNAVAILABLE = "unavailable"
    # The entity exists but nothing readable came out of it.
    NO_PRICES = "no_prices"


@dataclass(frozen=True, slots=True)
class PriceReading:
    """What one read of a price entity gave."""

    entity_id: str
    status: PriceStatus
    slots: tuple[PriceSlot, ...] = ()
    source: PriceSource | None = None
    # A one-line explanation for the status sensor and the log; empty when all is well.
    detail: str = ""


class PriceEntityReader:
    """Reads one price entity; keeps the last action result for action-based sources."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        """Read `entity_id` (its attributes or its integration's action)."""
        self._hass = hass
        self.entity_id = entity_id
        self._kept: PriceReading | None = None
        self._fetched_at: datetime | None = None

    def uses_action(self) -> bool:
        """True when the prices come from an action rather than the entity's attributes."""
        return self._action_entry() is not None

    async def async_read(self, now: datetime) -> PriceReading:
        """The entity's prices now; calls the action only when the kept result falls short."""
        state = self._hass.states.get(self.entity_id)
        if state is None:
            return PriceReading(
                self.entity_id, PriceStatus.UNAVAILABLE, detail="entity does not exist"
            )
        if (action := self._action_entry()) is not None:
            return await self._async_read_action(*action, now)
        attributes = dict(state.attributes)
        parsed = parse_prices(attributes, default_tz=dt_util.get_default_time_zone())
        unit = parse_unit(attributes.get("unit_of_measurement"))
        if not parsed.slots and unit is not None:
            # A plain price sensor without lists: say so rather than "unreadable".
            return PriceReading(
                self.entity_id,
                PriceStatus.NO_PRICES,
                source=parsed.source,
                detail="the entity has no price list attributes",
            )
        return _reading(self.entity_id, parsed.slots, parsed.source, parsed.skipped)

    def _action_entry(self) -> tuple[str, er.RegistryEntry] | None:
        """The integration domain and registry entry when the entity's prices need an action."""
        entry = er.async_get(self._hass).async_get(self.entity_id)
        if entry is None or entry.platform not in ACTION_DOMAINS:
            return None
        return entry.platform, entry

    async def _async_read_action(
        self, domain: str, entry: er.RegistryEntry, now: datetime
    ) -> PriceReading:
        if self._kept is not None and not self._needs_fetch(self._kept, now):
            return self._kept
        today = dt_util.as_local(now).date()
        responses: list[tuple[PriceSource, Mapping[str, Any]]] = []
        errors: list[str] = []
        for call in _action_calls(domain, entry, today):
            try:
                response = await self._hass.services.async_call(
                    domain, call.service, call.data, blocking=True, return_response=True
                )
            except HomeAssistantError as err:
                # Tomorrow's prices are missing until they are published: not an error.
                errors.append(f"{domain}.{call.service} for {call.label}: {err}")
                continue
            if isinstance(response, Mapping):
                responses.append((call.source, response))
        self._fetched_at = now
        slots: dict[datetime, PriceSlot] = {}
        skipped: list[str] = []
        source: PriceSource | None = None
        for hint, payload in responses:
            source = hint
            parsed = parse_prices(payload, source_hint=hint)
            slots.update((slot.start, slot) for slot in parsed.slots)
            skipped.extend(parsed.skipped)
        if errors:
            LOGGER.debug("Price action calls for %s: %s", self.entity_id, "; ".join(errors))
        if not responses and self._kept is not None and self._kept.slots:
            return self._kept  # keep what we had: the next quarter tries again
        reading = _reading(
            self.entity_id,
            tuple(slots[start] for start in sorted(slots)),
            source,
            tuple(skipped) if responses else tuple(errors),
        )
        self._kept = reading
        return reading

    def _needs_fetch(self, kept: PriceReading, now: datetime) -> bool:
        if self._fetched_at is not None and now - self._fetched_at < REFETCH_INTERVAL:
            return False
        until = covers_until(kept.slots, now=now)
        if until is None:
            return True
        local = dt_util.as_local(now)
        if local.hour < TOMORROW_DUE_HOUR:
            return False
        end_of_tomorrow = dt_util.start_of_local_day(local.date() + timedelta(days=2))
        return until < end_of_tomorrow


@dataclass(frozen=True, slots=True)
class _ActionCall:
    service: str
    data: dict[str, Any]
    source: PriceSource
    label: str


def _action_calls(domain: str, entry: er.RegistryEntry, today: date) -> list[_ActionCall]:
    """The action calls that give today's and tomorrow's prices for the entity's source."""
    tomorrow = today + timedelta(days=1)
    data: dict[str, Any]
    if domain == TIBBER_DOMAIN:
        # One call for both days: the action filters on start <= price start < end.
        start = dt_util.start_of_local_day(today)
        data = {"start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}
        return [_ActionCall("get_prices", data, PriceSource.TIBBER, "today and tomorrow")]
    calls: list[_ActionCall] = []
    for day, label in ((today, "today"), (tomorrow, "tomorrow")):
        if domain == NORDPOOL_DOMAIN:
            data = {"config_entry": entry.config_entry_id, "date": day.isoformat()}
            # The sensor's unique id starts with its area; ask for that area only.
            # Block sensors start with a lower-case block name instead: then all areas come.
            area = (entry.unique_id or "").split("-")[0]
            if area.isalnum() and area.isupper():
                data["areas"] = [area]
            calls.append(_ActionCall("get_prices_for_date", data, PriceSource.NORDPOOL, label))
        else:
            # Market prices without VAT: the options add markup, tax and VAT (docs/optimiser.md).
            data = {
                "config_entry": entry.config_entry_id,
                "incl_vat": False,
                "start": day.isoformat(),
                "end": day.isoformat(),
            }
            calls.append(_ActionCall("get_energy_prices", data, PriceSource.ENERGYZERO, label))
    return calls


def _reading(
    entity_id: str,
    slots: tuple[PriceSlot, ...],
    source: PriceSource | None,
    skipped: tuple[str, ...],
) -> PriceReading:
    if slots:
        return PriceReading(entity_id, PriceStatus.OK, slots, source)
    detail = skipped[0] if skipped else "no prices found"
    return PriceReading(entity_id, PriceStatus.NO_PRICES, (), source, detail=detail)
