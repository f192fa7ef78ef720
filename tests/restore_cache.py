"""States for entities to restore, given the way Home Assistant itself reads them at start.

pytest-homeassistant-custom-component 0.13.375's `mock_restore_cache(_with_extra_data)` puts a
new `RestoreStateData` in `hass.data` and assigns its `last_states` dict. Home Assistant 2026.11
no longer reads that attribute: it keeps stored states in `last_states_by_entity_registry_id` and
`last_states_by_entity_id` and looks an entity with a registry entry up by the entry's id
(`RestoreStateData.async_get_stored_state`), so nothing was restored (silently: the assignment
only adds an attribute). Here the states go into the restore store (`core.restore_state` in the
mocked storage) in the format every version reads, and the test instance's own
`RestoreStateData` loads them. 2026.11 takes the states saved without a registry id as written
by earlier versions: indexed by entity id, and moved to the registry entry's id when the entity
registers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import json
from typing import Any

from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import restore_state as rs
from homeassistant.helpers.json import JSONEncoder
from homeassistant.util import dt as dt_util


async def async_restore_cache(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    states: Sequence[State | tuple[State, Mapping[str, Any]]],
) -> None:
    """Have `states` (each with its entity's extra data, or none) restored at the next set-up."""
    last_seen = dt_util.utcnow()
    stored = []
    for item in states:
        state, extra_data = item if isinstance(item, tuple) else (item, None)
        stored.append({"state": state.as_dict(), "extra_data": extra_data, "last_seen": last_seen})
    hass_storage[rs.STORAGE_KEY] = {
        "version": rs.STORAGE_VERSION,
        "key": rs.STORAGE_KEY,
        # As the store writes it: JSON (datetimes as ISO text).
        "data": json.loads(json.dumps(stored, cls=JSONEncoder)),
    }
    await rs.async_get(hass).async_load()
