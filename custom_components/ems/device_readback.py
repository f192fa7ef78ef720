"""Read back what ems wrote to the Indevolt: the real-time command and the device settings.

The device answers a SetData with `result: true` and may still not hold the value (firmware
that ignores a command in some state, a cluster whose main unit overrides it). After each write
the controller notes what it sent and the number of battery reads so far; the first poll that
read the battery after the write compares the registers with it (6107-6109 for 47015, the
setting's read register for a setting). The working mode (7101) may lag a write by a poll or
two, and so may these: a difference counts as a mismatch only when it is still there at the
`MODE_REPORT_LAG_POLLS`-th poll after the write. Each mismatch episode gives one warning; the
command's status is shown by a diagnostic sensor. Pure logic: the caller logs and polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .const import MODE_REPORT_LAG_POLLS
from .devices.indevolt_registers import DeviceSetting
from .devices.indevolt_snapshot import BatterySnapshot, RealtimeReadback


class ReadbackStatus(StrEnum):
    """Whether the device holds the last real-time command ems sent."""

    NONE = "none"  # no command held: none sent since set-up, or the battery was given back
    PENDING = "pending"  # sent; no poll has read the battery since
    CONFIRMED = "confirmed"
    MISMATCH = "mismatch"


@dataclass(slots=True, kw_only=True)
class _Expected:
    """One write to confirm: `reads_at_write` battery reads had completed when it was sent."""

    reads_at_write: int
    polls_left: int = MODE_REPORT_LAG_POLLS
    warned: bool = False


@dataclass(slots=True, kw_only=True)
class _ExpectedSetting(_Expected):
    setting: DeviceSetting
    value: int

    def held(self, snapshot: BatterySnapshot) -> bool:
        """True when the setting's read register shows the value written."""
        read = snapshot.number(self.setting.read_register)
        if self.setting.is_switch:
            expected = self.setting.on_value if self.value else self.setting.off_value
            return read == expected
        return read == self.value


class DeviceReadback:
    """What ems last wrote, and whether the polls show the device holding it."""

    def __init__(self) -> None:
        """Nothing sent yet."""
        self.status = ReadbackStatus.NONE
        self.sent_command: RealtimeReadback | None = None
        self.read_command: RealtimeReadback | None = None
        self._command: _Expected | None = None
        self._settings: dict[str, _ExpectedSetting] = {}

    def note_command(self, sent: RealtimeReadback, reads_at_write: int) -> None:
        """A 47015 write of `sent` succeeded."""
        self.sent_command = sent
        self.status = ReadbackStatus.PENDING
        self._command = _Expected(reads_at_write=reads_at_write)

    def note_released(self) -> None:
        """The battery was given back (self-consumption or schedule): no command to hold."""
        self.sent_command = self._command = None
        self.status = ReadbackStatus.NONE

    def note_setting(self, setting: DeviceSetting, value: int, reads_at_write: int) -> None:
        """A setting write of `value` succeeded."""
        self._settings[setting.key] = _ExpectedSetting(
            reads_at_write=reads_at_write, setting=setting, value=value
        )

    def check(self, snapshot: BatterySnapshot, reads: int) -> list[str]:
        """Compare a poll (the `reads`-th battery read) with what was sent; warnings to log.

        Each returned line starts a mismatch episode; nothing is returned again for it.
        """
        warnings: list[str] = []
        self.read_command = snapshot.realtime_readback
        if (command := self._command) is not None and reads > command.reads_at_write:
            sent = self.sent_command
            assert sent is not None
            held = self.read_command is not None and self.read_command.matches(sent)
            if self._outcome(command, held):
                self.status = ReadbackStatus.CONFIRMED
                self._command = None
            elif command.polls_left <= 0:
                self.status = ReadbackStatus.MISMATCH
                if not command.warned:
                    command.warned = True
                    warnings.append(
                        f"The Indevolt does not hold the real-time command ems sent: sent "
                        f"{_describe(sent)}, it reports {_describe(self.read_command)}"
                    )
        for key, expected in list(self._settings.items()):
            if reads <= expected.reads_at_write:
                continue
            if self._outcome(expected, expected.held(snapshot)):
                del self._settings[key]
            elif expected.polls_left <= 0:
                del self._settings[key]
                warnings.append(
                    f"The Indevolt does not hold the {key} ems wrote: wrote {expected.value}, "
                    f"it reports {snapshot.value(expected.setting.read_register)}"
                )
        return warnings

    @staticmethod
    def _outcome(expected: _Expected, held: bool) -> bool:
        """True when held; else count one poll of the tolerated lag."""
        if held:
            return True
        expected.polls_left -= 1
        return False


def _describe(command: RealtimeReadback | None) -> str:
    if command is None:
        return "no command"
    return f"[{command.action}, {command.power_w} W, {command.soc_percent} %]"
