"""Which keys each Indevolt poll asks for: every fast register, and a share of the slow ones.

A `GetData` request takes at most `MAX_KEYS_PER_REQUEST` keys (longer lists have been answered
with HTTP 400), and every extra request adds a full device round trip to the poll. So the slow
registers (identity, settings, limits, packs) are not read all together once in a while (which
made that poll two requests and doubled its duration) but a share at a time, in the room the
fast registers leave in the one request of every poll, round robin.

- The first poll reads every slow register (two requests for generation 2): the entities set up
  from that poll (the pack devices, the settings, the limits stored in the entry) need them all.
- A battery pack's registers are read together, so that a pack never shows with some of its
  values from an earlier reading than others.
- After a setting is written (`read_settings_next`), the next poll reads the settings' registers
  ahead of its share: the readback compares them with what was written. The settings (6 keys for
  generation 2) and the largest unit (a pack, 7) fit the room (13) together, so the share still
  takes a unit of the round robin: writes at every poll delay the others but never starve them.

Pure logic: no I/O.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from .indevolt_registers import (
    BATTERY_PACKS,
    FAST_REGISTERS_BY_GENERATION,
    NUMBER_SETTINGS,
    SLOW_REGISTERS_BY_GENERATION,
    SWITCH_SETTINGS,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_KEYS_PER_REQUEST: Final = 50


def slow_units(slow: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """`slow` in the units it is read in: a battery pack's registers together, others alone."""
    packs = {register: pack.registers for pack in BATTERY_PACKS for register in pack.registers}
    units: dict[tuple[int, ...], None] = {}
    for register in slow:
        pack = packs.get(register)
        units[(register,) if pack is None else tuple(r for r in pack if r in slow)] = None
    return tuple(units)


class PollPlan:
    """The keys of one generation's polls, and where the slow registers' round robin stands."""

    def __init__(self, generation: int) -> None:
        """Nothing read yet: the first poll reads everything."""
        self.generation = generation
        self.fast: Final = FAST_REGISTERS_BY_GENERATION[generation]
        self.slow: Final = SLOW_REGISTERS_BY_GENERATION[generation]
        self._room: Final = MAX_KEYS_PER_REQUEST - len(self.fast)
        # The written settings' slow read registers (the backup SOC is fast).
        self._settings: Final = tuple(
            setting.read_register
            for setting in (*NUMBER_SETTINGS, *SWITCH_SETTINGS)
            if setting.read_register in self.slow
        )
        # Largest units first: the round robin then settles on shares that fill the room (for
        # generation 2 a pack and six single registers; every slow register in 5 polls).
        units = sorted(slow_units(self.slow), key=len, reverse=True)
        self._units: deque[tuple[int, ...]] = deque(units)
        self._read_everything = True
        self._settings_due = False

    def read_everything_next(self) -> None:
        """Read every slow register at the next poll (set-up, or the device was away)."""
        self._read_everything = True

    def read_settings_next(self) -> None:
        """Read the settings' registers at the next poll (a setting was written)."""
        self._settings_due = True

    def next_keys(self) -> tuple[int, ...]:
        """The keys of the next poll, fast ones first; advances the round robin."""
        if self._read_everything:
            self._read_everything = self._settings_due = False
            return (*self.fast, *self.slow)
        share: dict[int, None] = dict.fromkeys(self._settings if self._settings_due else ())
        self._settings_due = False
        taken: list[tuple[int, ...]] = []
        # First fit in round-robin order: a unit too big for what is left waits at the front.
        for unit in self._units:
            if len(share.keys() | unit) <= self._room:
                share.update(dict.fromkeys(unit))
                taken.append(unit)
        for unit in taken:
            self._units.remove(unit)
            self._units.append(unit)
        return (*self.fast, *share)
